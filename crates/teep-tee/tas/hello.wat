;; The `hello` TA: every command answers "Hello IETF TEEP!".
;; Uses the TA API imports of module "teep" (see src/runtime.rs).
(module
  (import "teep" "log" (func $log (param i32 i32)))
  (import "teep" "set_result" (func $set_result (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "Hello IETF TEEP!")
  (data (i32.const 64) "hello: session opened")
  (data (i32.const 96) "hello: session closed")

  (func (export "open_session") (result i32)
    (call $log (i32.const 64) (i32.const 21))
    (i32.const 0))

  (func (export "invoke") (param $command i32) (result i32)
    (call $set_result (i32.const 16) (i32.const 16))
    (i32.const 0))

  (func (export "close_session")
    (call $log (i32.const 96) (i32.const 21))))
