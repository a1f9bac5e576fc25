//! `glassbox tokenize MODEL|--tokenizer DIR [TEXT | --file F | --ids 1,2,3]`: shows how text
//! becomes tokens: each token's id, bytes and text (a token holding part of a character is
//! shown with the character it helps to form, never as "�"); with `--explain`, the BPE
//! merges that built each pre-token from its bytes, with their ranks. `--format ids|json`
//! for scripts.

use anyhow::Result;
use glassbox::tokenizer::{escape_text, PieceExplanation, TokenView, Tokenizer};
use glassbox::Error;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One row per token: index, id, bytes (hex), text.
    Table,
    /// The ids, comma-separated (as `generate --ids` takes them).
    Ids,
    /// Everything as one JSON object.
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// A model directory, then the text. With --tokenizer, only the text. Without a text
    /// (and without --file or --ids), the text is read from standard input.
    #[arg(value_name = "MODEL|TEXT", num_args = 0..=2)]
    positional: Vec<String>,
    /// A folder with tokenizer files (vocab.json + merges.txt, tokenizer.json, or
    /// tokenizer_char.json) to use instead of a model's.
    #[arg(long, value_name = "DIR")]
    tokenizer: Option<PathBuf>,
    /// Tokenize the contents of this file (any bytes: what is not UTF-8 is encoded as bytes).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Show these token ids instead of encoding text: --ids 15496,995
    #[arg(long, value_delimiter = ',', conflicts_with = "file")]
    ids: Option<Vec<String>>,
    /// Output: table (for people), ids, or json.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Show, for each pre-token, the merges from bytes to tokens and each merge's rank.
    #[arg(long)]
    explain: bool,
    /// Treat `<|endoftext|>` in the text as the special token, not as ordinary text.
    #[arg(long)]
    allow_special: bool,
}

/// Where the input came from.
enum Input {
    Text(String),
    Bytes(Vec<u8>),
    Ids(Vec<u32>),
}

pub fn run(args: Args) -> Result<()> {
    let (dir, text_arg) = match (&args.tokenizer, args.positional.as_slice()) {
        (Some(dir), []) => (dir.clone(), None),
        (Some(dir), [text]) => (dir.clone(), Some(text.clone())),
        (Some(_), _) => {
            return Err(Error::input(
                "with --tokenizer DIR give only the text (quote it if it has spaces), not a model too",
            )
            .into())
        }
        (None, []) => {
            return Err(Error::input(
                "name a model directory (glassbox tokenize MODEL \"text\") or a tokenizer folder (--tokenizer DIR)",
            )
            .into())
        }
        (None, [model]) => (PathBuf::from(model), None),
        (None, [model, text, ..]) => (PathBuf::from(model), Some(text.clone())),
    };
    let tok = Tokenizer::load(&dir)?;

    let input = match (text_arg, &args.file, &args.ids) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(Error::input("give the text as an argument, --file or --ids, not two of them").into())
        }
        (Some(text), None, None) => Input::Text(text),
        (None, Some(file), _) => {
            let bytes = std::fs::read(file).map_err(|e| Error::reading(file, e))?;
            match String::from_utf8(bytes) {
                Ok(text) => Input::Text(text),
                Err(e) => Input::Bytes(e.into_bytes()),
            }
        }
        (None, None, Some(raw)) => Input::Ids(super::generate::parse_ids(raw)?),
        (None, None, None) => {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(Error::input(
                    "give the text to tokenize: as an argument, with --file FILE, or on standard input",
                )
                .into());
            }
            let mut bytes = Vec::new();
            stdin.read_to_end(&mut bytes).map_err(|e| Error::failure(format!("could not read standard input: {e}")))?;
            match String::from_utf8(bytes) {
                Ok(text) => Input::Text(text),
                Err(e) => Input::Bytes(e.into_bytes()),
            }
        }
    };

    if args.explain && matches!(tok, Tokenizer::Char(_)) {
        return Err(Error::input(
            "--explain shows BPE merges, and this is a character tokenizer: each character is one token",
        )
        .into());
    }
    let (ids, explained) = match &input {
        Input::Text(text) => {
            let ids = if args.allow_special { tok.encode_allow_special(text)? } else { tok.encode_checked(text)? };
            let explained = if args.explain { Some(tok.explain(text, args.allow_special)?) } else { None };
            (ids, explained)
        }
        Input::Bytes(bytes) => {
            let ids = tok.encode_bytes(bytes)?;
            let explained = match (&tok, args.explain) {
                (Tokenizer::Bpe(bpe), true) => Some(explain_bytes(bpe, bytes)),
                _ => None,
            };
            (ids, explained)
        }
        Input::Ids(ids) => {
            if args.explain {
                return Err(Error::input("--explain needs text to explain, not --ids").into());
            }
            (ids.clone(), None)
        }
    };
    // Checks every id (an id out of range is bad input) whatever the format.
    let decoded = tok.decode_text(&ids)?;
    let n_bytes = decoded.bytes;

    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Ids => {
            let list: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
            writeln!(out, "{}", list.join(","))?;
        }
        Format::Json => {
            let views = tok.views(&ids)?;
            let mut json = serde_json::json!({
                "tokenizer": tok.describe(),
                "vocab_size": tok.vocab_size(),
                "ids": ids,
                "bytes": n_bytes,
                "tokens": views.iter().map(view_json).collect::<Vec<_>>(),
                "text": decoded.text,
                "text_exact": decoded.replaced == 0,
            });
            if let Some(pieces) = &explained {
                json["pieces"] = pieces.iter().map(|p| piece_json(&tok, p)).collect();
            }
            writeln!(out, "{json}")?;
        }
        Format::Table => {
            if let Some(pieces) = &explained {
                print_explanations(&mut out, &tok, pieces)?;
                writeln!(out)?;
            }
            print_table(&mut out, &tok.views(&ids)?)?;
            let ratio = if ids.is_empty() {
                String::new()
            } else {
                format!(" ({:.2} bytes per token)", n_bytes as f64 / ids.len() as f64)
            };
            writeln!(out, "{n_bytes} bytes → {} tokens{ratio} · {}", ids.len(), tok.describe())?;
            if decoded.replaced > 0 {
                writeln!(
                    out,
                    "note: these bytes are not all valid UTF-8; as text, {} stretch(es) would show as U+FFFD",
                    decoded.replaced
                )?;
            }
            if matches!(input, Input::Ids(_)) {
                writeln!(out, "text: {:?}", decoded.text)?;
            }
        }
    }
    Ok(())
}

/// Explains a byte string that is not all UTF-8 (as `encode_bytes` splits it).
fn explain_bytes(bpe: &glassbox::tokenizer::BpeTokenizer, bytes: &[u8]) -> Vec<PieceExplanation> {
    let mut out = Vec::new();
    for chunk in bytes.utf8_chunks() {
        out.extend(bpe.explain(chunk.valid(), false));
        if !chunk.invalid().is_empty() {
            out.push(bpe.explain_piece(chunk.invalid()));
        }
    }
    out
}

fn print_table(out: &mut impl Write, views: &[TokenView]) -> std::io::Result<()> {
    let hexes: Vec<String> = views.iter().map(TokenView::hex).collect();
    let w_index = views.len().saturating_sub(1).to_string().len().max(1);
    let w_id = views.iter().map(|v| v.id.to_string().len()).max().unwrap_or(2).max(2);
    let w_hex = hexes.iter().map(|h| h.len()).max().unwrap_or(5).max(5);
    writeln!(out, "{:>w_index$}  {:>w_id$}  {:<w_hex$}  token", "#", "id", "bytes")?;
    for (i, (v, hex)) in views.iter().zip(&hexes).enumerate() {
        writeln!(out, "{i:>w_index$}  {:>w_id$}  {hex:<w_hex$}  {}", v.id, v.label())?;
    }
    Ok(())
}

/// A token in one short word for the explain view: its text with spaces as `␣`, or its
/// bytes in hex where it is not whole characters.
fn short(tok: &Tokenizer, id: u32) -> String {
    let bytes = tok.token_bytes(id).unwrap_or_default();
    match std::str::from_utf8(bytes) {
        Ok(s) => escape_text(s).replace(' ', "␣"),
        Err(_) => {
            let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("‹{}›", hex.join(" "))
        }
    }
}

fn sequence(tok: &Tokenizer, ids: &[u32]) -> String {
    ids.iter().map(|&id| short(tok, id)).collect::<Vec<_>>().join(" | ")
}

fn print_explanations(out: &mut impl Write, tok: &Tokenizer, pieces: &[PieceExplanation]) -> std::io::Result<()> {
    for (k, p) in pieces.iter().enumerate() {
        let shown = String::from_utf8_lossy(&p.piece);
        writeln!(out, "pre-token {} of {}: \"{}\"", k + 1, pieces.len(), escape_text(&shown))?;
        if p.special {
            writeln!(out, "  special token, id {}: no merges", p.ids[0])?;
            continue;
        }
        // A long piece (a run of symbols, a megabyte without a space) is shown in brief: its
        // merges without the whole sequence after each, and at most MAX_STEPS of them.
        const LONG: usize = 64;
        const MAX_STEPS: usize = 200;
        let long = p.start.len() > LONG;
        if long {
            writeln!(out, "  {} bytes, one token each (sequences not shown for a piece this long)", p.start.len())?;
        } else {
            writeln!(out, "  {:<34}  {}", "bytes, one token each", sequence(tok, &p.start))?;
        }
        let states = if long { Vec::new() } else { p.states() };
        for (k, step) in p.steps.iter().enumerate().take(MAX_STEPS) {
            let merge = format!(
                "rank {:>5}: {} + {} → {}",
                step.rank,
                short(tok, step.left),
                short(tok, step.right),
                short(tok, step.merged)
            );
            match states.get(k) {
                Some(state) => writeln!(out, "  {merge:<34}  {}", sequence(tok, state))?,
                None => writeln!(out, "  {merge}")?,
            }
        }
        if p.steps.len() > MAX_STEPS {
            writeln!(out, "  … and {} more merges", p.steps.len() - MAX_STEPS)?;
        }
        let ids: Vec<String> = p.ids.iter().map(|id| id.to_string()).collect();
        let merges = match p.steps.len() {
            0 => "no merges".to_string(),
            1 => "1 merge".to_string(),
            n => format!("{n} merges"),
        };
        writeln!(out, "  {:<34}  ids {}", merges, ids.join(", "))?;
    }
    Ok(())
}

fn view_json(v: &TokenView) -> serde_json::Value {
    serde_json::json!({
        "id": v.id,
        "bytes": v.hex(),
        "text": if v.is_whole() { std::str::from_utf8(&v.bytes).ok() } else { None },
        "label": v.label(),
        "whole": v.is_whole(),
    })
}

fn piece_json(tok: &Tokenizer, p: &PieceExplanation) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = p
        .steps
        .iter()
        .map(|s| {
            serde_json::json!({
                "rank": s.rank,
                "left": s.left,
                "right": s.right,
                "merged": s.merged,
                "byte_offset": s.byte_offset,
                "shown": format!("{} + {} → {}", short(tok, s.left), short(tok, s.right), short(tok, s.merged)),
            })
        })
        .collect();
    serde_json::json!({
        "piece": String::from_utf8_lossy(&p.piece),
        "bytes": p.piece.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" "),
        "special": p.special,
        "start": p.start,
        "steps": steps,
        "ids": p.ids,
    })
}
