//! `wrong-world`: a valid component for some other WIT world.
//!
//! It exports `run: func() -> string` from package `other:thing@1.0.0` and
//! nothing of wasmq's contract, so the host must refuse to load it, with a
//! message saying it does not export `wasmq:plugin/handler`. It uses
//! `wit-bindgen` directly, not the SDK, which only knows the wasmq world.

wit_bindgen::generate!({
    inline: "
        package other:thing@1.0.0;

        world w {
            export run: func() -> string;
        }
    ",
    world: "w",
});

struct Component;

impl Guest for Component {
    fn run() -> String {
        "not a wasmq handler".to_owned()
    }
}

export!(Component);
