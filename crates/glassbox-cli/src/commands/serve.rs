//! `glassbox serve MODEL [--host 127.0.0.1] [--port 8080] [--allowed-host NAME]…`: the web walkthrough, the
//! playground, the semantic map, the training curves and an OpenAI-compatible API over one
//! model directory or training run. Everything is in `glassbox-server`; this prints the
//! address and blocks until Ctrl-C.

use std::io::Write;
use std::net::ToSocketAddrs;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Model directory (Hugging Face GPT-2 layout) or a run directory from `glassbox train`.
    model: PathBuf,
    /// Address to listen on; 0.0.0.0 makes the pages reachable from other machines.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Another host name the server answers to (repeatable), e.g. a name in /etc/hosts or a
    /// proxy's; requests naming any other host are refused (a defence against DNS rebinding).
    #[arg(long = "allowed-host", value_name = "NAME")]
    allowed_hosts: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    check_host(&args.host, args.port)?;
    if let Some(cell) = glassbox::recurrent::files::recurrent_cell_of(&args.model) {
        let dir = super::shell_word(&args.model.display().to_string());
        return Err(glassbox::Error::input(format!(
            "{dir} is an {}, and the web pages read a GPT's attention, MLP and residual stream; to see an {} on the \
             web, run `glassbox compare --out DIR` (a GPT and an {} of the same size, trained on the same text) and \
             `glassbox serve DIR` (its Why transformers page); `glassbox explain {dir}` shows this one step by step",
            cell.title(),
            cell.title(),
            cell.title()
        ))
        .into());
    }
    let mut options = glassbox_server::ServeOptions::new(args.model);
    options.host = args.host;
    options.port = args.port;
    options.allowed_hosts = args.allowed_hosts;
    glassbox_server::run(options, |addr, state| {
        let loaded = state.model();
        let c = loaded.config();
        let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
        let url = if addr.is_ipv6() {
            format!("http://[{host}]:{}", addr.port())
        } else {
            format!("http://{host}:{}", addr.port())
        };
        // the banner is for people: the server goes on serving if no one reads it
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "glassbox serve: {} ({} layers, {} heads, {} dims, {} tokens, context {})",
            state.dir.display(),
            c.n_layer,
            c.n_head,
            c.n_embd,
            c.vocab_size,
            c.n_ctx
        );
        let _ = writeln!(out, "  walkthrough  {url}/");
        let _ = writeln!(out, "  playground   {url}/playground");
        let _ = writeln!(out, "  space        {url}/space");
        let _ = writeln!(out, "  training     {url}/training");
        if state.why.is_some() {
            let _ = writeln!(out, "  why          {url}/why  (the GPT beside the LSTM of the comparison)");
        }
        let _ = writeln!(out, "  OpenAI API   {url}/v1/completions  (see {url}/api-docs)");
        let _ = writeln!(out, "Ctrl-C stops the server.");
        let _ = out.flush();
    })?;
    Ok(())
}

/// A host that is no address (`999.1.1.1`, a typo) is bad input, not a failure to listen.
fn check_host(host: &str, port: u16) -> Result<(), glassbox::Error> {
    match (host, port).to_socket_addrs().map(|mut addrs| addrs.next()) {
        Ok(Some(_)) => Ok(()),
        _ => Err(glassbox::Error::input(format!(
            "--host {} is neither an IP address nor a name this machine resolves; use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)",
            glassbox::error::excerpt(host)
        ))),
    }
}
