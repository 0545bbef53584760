fn main() {
    println!("dnssec-monitor: not yet wired");
}
