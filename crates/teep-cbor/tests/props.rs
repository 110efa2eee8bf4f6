//! Properties of the writer and the reader together: what the writer emits reads back
//! unchanged under the strictest rules, and the reader rejects non-shortest heads, indefinite
//! lengths, truncated input and nesting beyond the limit wherever they occur.

use proptest::prelude::*;
use teep_cbor::{
    write_array_head, write_bool, write_bytes, write_f64, write_head, write_int128,
    write_map_sorted, write_null, write_tag, write_text, ComponentId, DepthLimit, ErrorKind,
    Reader, Rules, Type, MAX_DEPTH,
};

/// A data item as a test model (maps keep unique keys; floats are never NaN so `==` works).
#[derive(Debug, Clone, PartialEq)]
enum Item {
    Int(i128),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Item>),
    Map(Vec<(Item, Item)>),
    Tag(u64, Box<Item>),
    Bool(bool),
    Null,
    Float(f64),
}

fn item() -> impl Strategy<Value = Item> {
    let leaf = prop_oneof![
        (-(1i128 << 64)..(1i128 << 64)).prop_map(Item::Int),
        any::<i8>().prop_map(|v| Item::Int(v.into())),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Item::Bytes),
        ".{0,20}".prop_map(Item::Text),
        any::<bool>().prop_map(Item::Bool),
        Just(Item::Null),
        any::<f64>()
            .prop_filter("NaN", |f| !f.is_nan())
            .prop_map(Item::Float),
        any::<i16>().prop_map(|v| Item::Float(f64::from(v) / 4.0)),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Item::Array),
            proptest::collection::btree_map(any::<i64>(), inner.clone(), 0..6).prop_map(|m| {
                Item::Map(
                    m.into_iter()
                        .map(|(k, v)| (Item::Int(k.into()), v))
                        .collect(),
                )
            }),
            (any::<u64>(), inner).prop_map(|(t, i)| Item::Tag(t, Box::new(i))),
        ]
    })
}

fn write(out: &mut Vec<u8>, item: &Item) {
    match item {
        Item::Int(n) => write_int128(out, *n),
        Item::Bytes(b) => write_bytes(out, b),
        Item::Text(s) => write_text(out, s),
        Item::Array(a) => {
            write_array_head(out, a.len());
            a.iter().for_each(|i| write(out, i));
        }
        Item::Map(m) => write_map_sorted(out, m.iter().map(|(k, v)| (k, v)), write, write),
        Item::Tag(t, i) => {
            write_tag(out, *t);
            write(out, i);
        }
        Item::Bool(b) => write_bool(out, *b),
        Item::Null => write_null(out),
        Item::Float(f) => write_f64(out, *f),
    }
}

fn encode(item: &Item) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, item);
    out
}

/// The item back, through the typed reads.
fn read(r: &mut Reader<'_>) -> Result<Item, teep_cbor::Error> {
    let t = r.datatype()?;
    Ok(match t {
        t if t.is_int() => Item::Int(r.int()?),
        Type::Bytes => Item::Bytes(r.bytes()?.to_vec()),
        Type::String => Item::Text(r.text()?.to_string()),
        Type::Array => {
            let n = r.array()?;
            r.enter()?;
            let items = (0..n).map(|_| read(r)).collect::<Result<_, _>>()?;
            r.leave();
            Item::Array(items)
        }
        Type::Map => {
            let n = r.map()?;
            r.enter()?;
            let mut entries = Vec::new();
            for _ in 0..n {
                entries.push((read(r)?, read(r)?));
            }
            r.leave();
            Item::Map(entries)
        }
        Type::Tag => {
            let tag = r.tag()?;
            r.enter()?;
            let inner = read(r)?;
            r.leave();
            Item::Tag(tag, Box::new(inner))
        }
        Type::Bool => Item::Bool(r.bool()?),
        Type::Null => {
            r.null()?;
            Item::Null
        }
        Type::F16 | Type::F32 | Type::F64 => Item::Float(r.float()?),
        other => panic!("writer never emits {other:?}"),
    })
}

fn sorted(item: Item) -> Item {
    match item {
        Item::Array(a) => Item::Array(a.into_iter().map(sorted).collect()),
        Item::Map(m) => {
            let mut m: Vec<_> = m.into_iter().map(|(k, v)| (sorted(k), sorted(v))).collect();
            m.sort_by_key(|(k, _)| encode(k));
            Item::Map(m)
        }
        Item::Tag(t, i) => Item::Tag(t, Box::new(sorted(*i))),
        other => other,
    }
}

/// The head of `major`/`arg` in a wider form than needed, if there is one.
fn long_head(major: u8, arg: u64) -> Option<Vec<u8>> {
    let m = major << 5;
    let out = match arg {
        0..=0xff => vec![m | 25, 0, arg as u8],
        0x100..=0xffff => [&[m | 26, 0, 0][..], &(arg as u16).to_be_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[m | 27, 0, 0, 0, 0][..], &(arg as u32).to_be_bytes()].concat(),
        _ => return None,
    };
    Some(out)
}

proptest! {
    #[test]
    fn written_items_read_back_deterministically(item in item()) {
        let bytes = encode(&item);
        let mut r = Reader::with_rules(&bytes, Rules::DETERMINISTIC);
        prop_assert_eq!(read(&mut r).unwrap(), sorted(item));
        r.finish().unwrap();
        let mut s = Reader::with_rules(&bytes, Rules::DETERMINISTIC);
        prop_assert_eq!(s.raw().unwrap(), &bytes[..]);
    }

    #[test]
    fn non_shortest_heads_are_rejected_when_required(major in 0u8..7, arg in any::<u64>()) {
        if let Some(head) = long_head(major, arg) {
            let strict = Reader::with_rules(&head, Rules::DETERMINISTIC).peek_head().unwrap_err();
            prop_assert!(matches!(strict.kind, ErrorKind::NotShortest { .. }), "{:?}", strict);
            let lenient = Reader::with_rules(&head, Rules::STRICT).peek_head().unwrap();
            prop_assert_eq!(lenient.arg, arg);
        }
        let mut shortest = Vec::new();
        write_head(&mut shortest, major, arg);
        let h = Reader::with_rules(&shortest, Rules::DETERMINISTIC).peek_head().unwrap();
        prop_assert_eq!((h.major, h.arg, h.len), (major, arg, shortest.len()));
    }

    #[test]
    fn indefinite_lengths_are_rejected(item in item(), major in 2u8..6, at_top in any::<bool>()) {
        let mut bytes = Vec::new();
        if !at_top {
            write_array_head(&mut bytes, 2);
            write(&mut bytes, &item);
        }
        bytes.push(major << 5 | 31);
        bytes.push(0xff);
        let e = Reader::new(&bytes).skip().unwrap_err();
        prop_assert_eq!(e.kind, ErrorKind::Indefinite { major });
    }

    #[test]
    fn truncated_input_is_rejected(item in item(), cut in any::<prop::sample::Index>()) {
        let bytes = encode(&item);
        let short = &bytes[..cut.index(bytes.len())];
        let unbounded = Rules { bound_counts: false, ..Rules::STRICT };
        let e = Reader::with_rules(short, unbounded).skip().unwrap_err();
        prop_assert!(e.kind.is_truncation(), "{:?}", e);
        let e = Reader::new(short).skip().unwrap_err();
        prop_assert!(
            e.kind.is_truncation() || matches!(e.kind, ErrorKind::CountPastEnd { .. }),
            "{:?}", e
        );
    }

    #[test]
    fn nesting_beyond_the_limit_is_rejected(depth in 1usize..80, tags in any::<bool>(), items_rule in any::<bool>()) {
        let mut bytes = vec![if tags { 0xc1 } else { 0x81 }; depth];
        bytes.push(0x00);
        let rules = Rules {
            depth: if items_rule { DepthLimit::Items } else { DepthLimit::Containers },
            ..Rules::STRICT
        };
        let result = Reader::with_rules(&bytes, rules).skip();
        if depth > MAX_DEPTH {
            prop_assert_eq!(result.unwrap_err().kind, ErrorKind::TooDeep);
        } else {
            prop_assert!(result.is_ok());
        }
    }

    #[test]
    fn component_ids_round_trip(segs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..12), 0..6)) {
        let id = ComponentId::from(segs);
        prop_assert_eq!(ComponentId::decode(&id.encode()).unwrap(), id.clone());
        prop_assert_eq!(ComponentId::parse(&id.to_string()).unwrap(), id);
    }
}
