//! `glassbox serve` without the rest of the command line (for development and the load
//! benchmark): `cargo run -p glassbox-server --example serve -- MODEL [PORT] [HOST]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(model) = args.next() else {
        eprintln!("usage: serve MODEL [PORT] [HOST]");
        std::process::exit(2);
    };
    let mut options = glassbox_server::ServeOptions::new(model);
    options.port = args.next().and_then(|p| p.parse().ok()).unwrap_or(8080);
    if let Some(host) = args.next() {
        options.host = host;
    }
    let result = glassbox_server::run(options, |addr, _| println!("listening on http://{addr}/"));
    if let Err(err) = result {
        eprintln!("error: {err}");
        std::process::exit(err.exit_code());
    }
}
