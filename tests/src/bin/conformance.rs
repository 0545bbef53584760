//! Replays Deckard `.rpl` scenarios through the engine (see `cargo xtask conformance`).
fn main() {
    eprintln!("conformance runner not built yet");
    std::process::exit(1);
}
