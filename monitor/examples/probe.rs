use monitor::capture::ebpf::KernelPrograms;
use monitor::capture::ringbuf::*;
use std::sync::Arc;
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut p = KernelPrograms::load(&[53])?;
    let maps = p.take_maps()?;
    p.attach_cgroup(&monitor::capture::cgroup::cgroup2_mount()?)?;
    let ls = monitor::capture::netlink::LinkSocket::open()?;
    for ev in ls.dump(std::time::Duration::from_secs(2))? {
        if let monitor::capture::netlink::LinkEvent::New {
            index,
            name,
            arphrd,
        } = ev
        {
            println!("{name}: {:?}", p.attach_interface(index, &name, arphrd));
        }
    }
    let names: InterfaceNames = Arc::default();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1000);
    let (_s, r) = tokio::sync::watch::channel(false);
    let rd = RingReader::new(maps.ring, names)?;
    tokio::spawn(rd.run(tx, Arc::default(), r));
    let t = tokio::time::sleep(std::time::Duration::from_secs(
        std::env::args()
            .nth(1)
            .map(|s| s.parse().unwrap())
            .unwrap_or(5),
    ));
    tokio::pin!(t);
    loop {
        tokio::select! {
            Some(pkt) = rx.recv() => println!("{:?} {:?} len={} cap={} cookie={:?}", pkt.interface, pkt.link, pkt.orig_len, pkt.data.len(), pkt.socket_cookie),
            _ = &mut t => break,
        }
    }
    println!("{:?}", maps.counters.named());
    Ok(())
}
