//! The engine shared by all TAs of a TEE: compiling and validating modules against the TA API,
//! and instantiating them with their own store, limits and fuel.

use std::sync::Arc;

use wasmi::{
    Config, EnforcedLimits, Engine, ExternType, Instance, Linker, Module, Store, StoreLimitsBuilder,
};

use super::host_api::{define_ta_api, HostState};
use super::session::{ta_stop_error, TaInstance};
use super::wasm_precheck::reject_bodiless_code_section;
use super::TaLimits;
use crate::components::ComponentLimits;
use crate::sealed::{SealedStore, Staged};
use crate::TeeError;

/// A compiled TA, cheap to clone and instantiate many times.
#[derive(Clone)]
pub struct TaModule {
    pub(super) module: Module,
    pub(super) has_open: bool,
    pub(super) has_close: bool,
}

impl std::fmt::Debug for TaModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaModule")
            .field("has_open", &self.has_open)
            .field("has_close", &self.has_close)
            .finish_non_exhaustive()
    }
}

/// Engine and linker shared by all TAs of a TEE.
pub struct TaRuntime {
    engine: Engine,
    linker: Linker<HostState>,
    limits: TaLimits,
}

impl std::fmt::Debug for TaRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaRuntime")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl TaRuntime {
    /// Makes an engine with fuel metering and strict limits for untrusted modules.
    pub fn new(limits: TaLimits) -> Self {
        let mut config = Config::default();
        config
            .consume_fuel(true)
            .wasm_memory64(false)
            .wasm_multi_memory(false)
            .enforced_limits(EnforcedLimits::strict());
        let engine = Engine::new(&config);
        let mut linker = Linker::new(&engine);
        // Defining fixed, distinct names on a fresh linker cannot fail.
        define_ta_api(&mut linker).expect("TA API definitions are distinct");
        TaRuntime {
            engine,
            linker,
            limits,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &TaLimits {
        &self.limits
    }

    /// Validates and compiles a TA; `ta` names it in errors.
    pub fn compile(&self, ta: &str, wasm: &[u8]) -> Result<TaModule, TeeError> {
        let bad = |reason: String| TeeError::BadModule {
            ta: ta.to_owned(),
            reason,
        };
        if wasm.len() > self.limits.max_module_bytes {
            return Err(bad(format!(
                "expected at most {} bytes, got {}",
                self.limits.max_module_bytes,
                wasm.len()
            )));
        }
        if !wasm.starts_with(b"\0asm") {
            return Err(bad("not a WebAssembly binary (missing \\0asm magic)".into()));
        }
        reject_bodiless_code_section(wasm).map_err(bad)?;
        // wasmi's parser is meant not to panic, but a panic in it must not take the TEE down
        // with it: treat one as a rejected module.
        let module = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Module::new(&self.engine, wasm)
        }))
        .map_err(|_| bad("the module crashed the WebAssembly parser".into()))?
        .map_err(|e| bad(e.to_string()))?;
        for import in module.imports() {
            if import.module() != "teep" || !matches!(import.ty(), ExternType::Func(_)) {
                return Err(bad(format!(
                    "import {}.{} is not part of the TA API",
                    import.module(),
                    import.name()
                )));
            }
        }
        if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
            return Err(bad("missing export `memory`".into()));
        }
        let func_export = |name: &str, params: usize, results: usize| -> Result<bool, TeeError> {
            match module.get_export(name) {
                None => Ok(false),
                Some(ExternType::Func(f))
                    if f.params().len() == params && f.results().len() == results =>
                {
                    Ok(true)
                }
                Some(_) => Err(bad(format!("export `{name}` has the wrong type"))),
            }
        };
        if !func_export("invoke", 1, 1)? {
            return Err(bad("missing export `invoke(command: i32) -> i32`".into()));
        }
        let has_open = func_export("open_session", 0, 1)?;
        let has_close = func_export("close_session", 0, 0)?;
        Ok(TaModule {
            module,
            has_open,
            has_close,
        })
    }

    /// Instantiates a compiled TA whose storage is `namespace` in `sealed`.
    pub(crate) fn instantiate(
        &self,
        ta: &str,
        ta_id: &[Vec<u8>],
        components: ComponentLimits,
        module: &TaModule,
        sealed: Arc<SealedStore>,
        namespace: String,
    ) -> Result<TaInstance, TeeError> {
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .memories(1)
            .tables(4)
            .table_elements(10_000)
            .instances(1)
            .trap_on_grow_failure(true)
            .build();
        let state = HostState {
            ta: ta.to_owned(),
            ta_id: ta_id.to_vec().into(),
            components,
            namespace,
            sealed,
            args: Vec::new(),
            result: None,
            staged: Staged::new(),
            staged_bytes: 0,
            store_limits,
            limits: self.limits,
            fault: None,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.store_limits);
        store
            .set_fuel(self.limits.fuel)
            .map_err(|e| TeeError::Trap {
                ta: ta.to_owned(),
                reason: e.to_string(),
            })?;
        let instance: Instance = self
            .linker
            .instantiate_and_start(&mut store, &module.module)
            .map_err(|e| ta_stop_error(ta, &self.limits, &mut store, e, "instantiate"))?;
        let missing = |what: &str| TeeError::BadModule {
            ta: ta.to_owned(),
            reason: format!("export `{what}` has the wrong type"),
        };
        let invoke = instance
            .get_typed_func::<i32, i32>(&store, "invoke")
            .map_err(|_| missing("invoke"))?;
        let open = if module.has_open {
            Some(
                instance
                    .get_typed_func::<(), i32>(&store, "open_session")
                    .map_err(|_| missing("open_session"))?,
            )
        } else {
            None
        };
        let close = if module.has_close {
            Some(
                instance
                    .get_typed_func::<(), ()>(&store, "close_session")
                    .map_err(|_| missing("close_session"))?,
            )
        } else {
            None
        };
        Ok(TaInstance {
            store,
            invoke,
            open,
            close,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(wat: &str) -> Result<TaModule, TeeError> {
        TaRuntime::new(TaLimits::default()).compile("t", &wat::parse_str(wat).unwrap())
    }

    #[test]
    fn detects_optional_entry_points() {
        let m = compile(
            r#"(module (memory (export "memory") 1)
                 (func (export "invoke") (param i32) (result i32) (i32.const 0))
                 (func (export "open_session") (result i32) (i32.const 0)))"#,
        )
        .unwrap();
        assert!(m.has_open && !m.has_close);
    }

    #[test]
    fn rejects_wrongly_typed_entry_points() {
        let err = compile(
            r#"(module (memory (export "memory") 1)
                 (func (export "invoke") (result i32) (i32.const 0)))"#,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("export `invoke` has the wrong type"),
            "{err}"
        );
        let err = compile(
            r#"(module (memory (export "memory") 1)
                 (func (export "invoke") (param i32) (result i32) (i32.const 0))
                 (func (export "close_session") (result i32) (i32.const 0)))"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("close_session"), "{err}");
    }

    #[test]
    fn rejects_imported_memory() {
        let err = compile(
            r#"(module (import "teep" "memory" (memory 1))
                 (func (export "invoke") (param i32) (result i32) (i32.const 0)))"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not part of the TA API"), "{err}");
    }

    #[test]
    fn rejects_empty_code_section_with_trailing_bytes() {
        // The fuzz finding, reduced: a code section with count 0 and 1000 bytes of padding.
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(10);
        wasm.extend_from_slice(&[0xe9, 0x07]); // section size 1001 (LEB128)
        wasm.push(0); // no function bodies
        wasm.extend_from_slice(&[0u8; 1000]);
        let err = TaRuntime::new(TaLimits::default())
            .compile("t", &wasm)
            .unwrap_err();
        assert!(
            err.to_string().contains("declares no function bodies"),
            "{err}"
        );
    }

    #[test]
    fn fuzz_crash_input_is_a_clear_error() {
        let wasm = include_bytes!("../../fuzz/seeds/ta_module/crash-empty-code-section.wasm");
        let err = TaRuntime::new(TaLimits::default())
            .compile("t", wasm)
            .unwrap_err();
        assert!(matches!(err, TeeError::BadModule { .. }), "{err}");
    }

    #[test]
    fn rejects_oversized_module_before_parsing() {
        let rt = TaRuntime::new(TaLimits {
            max_module_bytes: 16,
            ..TaLimits::default()
        });
        let err = rt.compile("t", &[0u8; 17]).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected at most 16 bytes, got 17"),
            "{err}"
        );
    }
}
