;; The `counter` TA: keeps a 64-bit count in its sealed storage under the key "count".
;;   command 1: increment, return the new value (8 bytes, little-endian)
;;   command 2: return the current value
;;   anything else: error code 1
(module
  (import "teep" "storage_get" (func $storage_get (param i32 i32 i32 i32) (result i32)))
  (import "teep" "storage_put" (func $storage_put (param i32 i32 i32 i32) (result i32)))
  (import "teep" "set_result" (func $set_result (param i32 i32)))
  (memory (export "memory") 1)
  ;; key "count" at 0 (5 bytes); the 8-byte value buffer at 16
  (data (i32.const 0) "count")

  (func $load (result i64)
    (local $len i32)
    (i64.store (i32.const 16) (i64.const 0))
    (local.set $len
      (call $storage_get (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8)))
    (if (i32.eq (local.get $len) (i32.const -1))
      (then (return (i64.const 0))))
    ;; a stored value of another length is corrupt: stop rather than guess
    (if (i32.ne (local.get $len) (i32.const 8))
      (then unreachable))
    (i64.load (i32.const 16)))

  (func (export "invoke") (param $command i32) (result i32)
    (local $value i64)
    (local.set $value (call $load))
    (if (i32.eq (local.get $command) (i32.const 1))
      (then
        (local.set $value (i64.add (local.get $value) (i64.const 1)))
        (i64.store (i32.const 16) (local.get $value))
        (if (i32.ne
              (call $storage_put (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8))
              (i32.const 0))
          (then (return (i32.const 2))))
        (call $set_result (i32.const 16) (i32.const 8))
        (return (i32.const 0))))
    (if (i32.eq (local.get $command) (i32.const 2))
      (then
        (i64.store (i32.const 16) (local.get $value))
        (call $set_result (i32.const 16) (i32.const 8))
        (return (i32.const 0))))
    (i32.const 1)))
