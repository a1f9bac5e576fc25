//! `glassbox explain MODEL PROMPT [--json]`: the prompt's walk through the model, stage by
//! stage, with the real numbers — tokens, embeddings, each block's layer norm (E[x],
//! Var[x], ε, γ, β), attention (which tokens each position reads), MLP, the growing
//! residual stream, the final layer norm, logits, softmax at several temperatures and the
//! logit lens. The engine builds the walkthrough (`glassbox::inspect::explain`); this file
//! only draws it. `--json` prints the walkthrough itself (schema in the engine's docs).
//!
//! Also home to the terminal helpers the inspection commands share: colours (only on a
//! terminal, never with NO_COLOR), bars, display widths.

use super::trace::{load, prompt_ids, InterventionArgs};
use crate::output::say;
use anyhow::Result;
use glassbox::inspect::explain::{explain, ExplainOptions, LayerNormFocus, Walkthrough};
use glassbox::inspect::TokenText;
use glassbox::Error;
use std::io::IsTerminal;
use std::path::PathBuf;

/// ANSI styling, on only when stdout is a terminal and NO_COLOR is unset.
#[derive(Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn stdout() -> Style {
        Style { color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
    pub fn cyan(&self, text: &str) -> String {
        self.paint("36", text)
    }
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn magenta(&self, text: &str) -> String {
        self.paint("35", text)
    }

    /// A chapter heading: ` 3  Layer norm · 层归一化`.
    pub fn chapter(&self, number: usize, title: &str, chinese: &str) {
        say!();
        say!("{} {}  {}", self.cyan(&format!("{number:>2}")), self.bold(title), self.dim(&format!("· {chinese}")));
    }
}

/// A horizontal bar of `fraction` (0..1) of `width` cells, in eighths.
pub fn bar(fraction: f32, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let f = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { 0.0 };
    let eighths = (f * (width * 8) as f32).round() as usize;
    let mut out = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        out.push(PARTS[eighths % 8]);
    }
    let used = out.chars().count();
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

/// Terminal columns a string takes (wide CJK characters count 2, combining marks 0).
pub fn width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x0300..=0x036F | 0x200B..=0x200F => 0,
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x1F900..=0x1F9FF
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

/// Pads (or cuts, with …) to exactly `cols` columns.
pub fn fit(text: &str, cols: usize) -> String {
    if width(text) <= cols {
        return format!("{text}{}", " ".repeat(cols - width(text)));
    }
    let mut out = String::new();
    for c in text.chars() {
        if width(&out) + width(&c.to_string()) + 1 > cols {
            break;
        }
        out.push(c);
    }
    out.push('…');
    format!("{out}{}", " ".repeat(cols.saturating_sub(width(&out))))
}

/// Moves a padded cell's trailing spaces to the front (right-aligns it over numbers).
pub fn right(cell: &str) -> String {
    let text = cell.trim_end();
    format!("{}{text}", " ".repeat(cell.len() - text.len()))
}

/// A token for a table: its display form in quotes (`"␣the"` keeps the space visible).
pub fn quoted(display: &str) -> String {
    format!("\"{display}\"")
}

/// The first `n` numbers of a vector, aligned.
pub fn numbers(values: &[f32], n: usize) -> String {
    let mut out: Vec<String> = values.iter().take(n).map(|v| format!("{v:>7.3}")).collect();
    if values.len() > n {
        out.push("…".into());
    }
    out.join(" ")
}

#[derive(clap::Args)]
pub struct Args {
    /// Model directory (Hugging Face GPT-2 layout or a glassbox run).
    model: PathBuf,
    /// The prompt text (needs the model's tokenizer files).
    prompt: Option<String>,
    /// Token ids instead of text: --ids 464,2068,7586
    #[arg(long, value_delimiter = ',')]
    ids: Option<Vec<String>>,
    /// The position the layer norms, MLP and logits follow (default: the last).
    #[arg(long)]
    position: Option<usize>,
    /// Print the walkthrough as JSON (for programs and the web page).
    #[arg(long)]
    json: bool,
    /// Leading dimensions of each vector to print.
    #[arg(long, default_value_t = 8)]
    dims: usize,
    /// Tokens in each top list.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Temperatures to show the softmax at.
    #[arg(long, value_delimiter = ',', default_value = "0.5,1,2")]
    temperatures: Vec<f32>,
    #[command(flatten)]
    interventions: InterventionArgs,
}

pub fn run(args: Args) -> Result<()> {
    if glassbox::recurrent::files::recurrent_cell_of(&args.model).is_some() {
        return run_recurrent(args);
    }
    let (model, tokenizer) = load(&args.model)?;
    let ids = prompt_ids(&model, tokenizer.as_ref(), args.prompt.as_deref(), args.ids.as_deref())?;
    if args.top == 0 {
        return Err(Error::input("--top 0 shows nothing; use 1 or more").into());
    }
    let options = ExplainOptions {
        focus: args.position,
        dims: args.dims,
        top_k: args.top,
        temperatures: args.temperatures.clone(),
        interventions: args.interventions.parse(&model.params, tokenizer.as_ref())?,
        ..ExplainOptions::default()
    };
    let walk = explain(&model.params, tokenizer.as_ref(), &ids, &options)?;
    if args.json {
        say!("{}", serde_json::to_string(&walk)?);
        return Ok(());
    }
    render(&walk, &args.model.display().to_string(), args.dims);
    Ok(())
}

fn token<'a>(walk: &'a Walkthrough, id: u32) -> std::borrow::Cow<'a, str> {
    match walk.vocab.get(&id) {
        Some(t) => std::borrow::Cow::Borrowed(t.display.as_str()),
        None => std::borrow::Cow::Owned(TokenText::new(None, id).display),
    }
}

fn render(walk: &Walkthrough, model_name: &str, dims: usize) {
    let s = Style::stdout();
    let m = &walk.model;
    let seq = walk.tokens.len();
    let focus = walk.focus;
    let focus_label = &walk.tokens[focus].label;
    say!(
        "{}  {}  ·  {} blocks × {} heads × {} dims  ·  vocabulary {}  ·  context {}  ·  {} parameters",
        s.bold("glassbox explain"),
        model_name,
        m.n_layer,
        m.n_head,
        m.n_embd,
        m.vocab_size,
        m.n_ctx,
        thousands(m.parameters)
    );
    for line in &walk.interventions {
        say!("{} {line}", s.yellow("intervention:"));
    }
    // long prompts: the per-position tables show the first 4 and the last 12 positions (and the focus)
    let rows: Vec<usize> = if seq <= 16 {
        (0..seq).collect()
    } else {
        let mut r: Vec<usize> = (0..4).chain(seq - 12..seq).collect();
        if !r.contains(&focus) {
            r.push(focus);
            r.sort_unstable();
        }
        r
    };
    let skipped = |i: usize| i > 0 && rows[i] != rows[i - 1] + 1;
    let mut chapter = 0;
    let mut next = || {
        chapter += 1;
        chapter
    };

    // 1. tokens
    s.chapter(next(), "Tokens", "分词 / token（词元）");
    say!(
        "   {}",
        s.dim(&format!(
            "the text becomes {seq} token{} ({}); each id picks a row of the embedding table",
            if seq == 1 { "" } else { "s" },
            walk.tokenizer.as_deref().unwrap_or("no tokenizer: ids given directly")
        ))
    );
    say!("   {}", s.dim("pos      id  token"));
    for t in &walk.tokens {
        let bytes = if t.text.is_none() || t.part_of.is_some() {
            s.dim(&format!("  bytes {}", t.bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")))
        } else {
            String::new()
        };
        let marker = if t.position == focus { s.magenta(" ◀ focus") } else { String::new() };
        say!("   {:>3} {:>7}  {}{bytes}{marker}", t.position, t.id, t.label);
    }

    // 2. embedding
    s.chapter(next(), "Embedding", "嵌入 + 位置嵌入");
    say!(
        "   {}",
        s.dim(&format!(
            "x = wte[id] (token, [{}×{}]) + wpe[pos] (position, [{}×{}]): the start of the residual stream",
            m.vocab_size, m.n_embd, m.n_ctx, m.n_embd
        ))
    );
    say!(
        "   {}",
        s.dim(&format!("pos  token         ‖wte[id]‖ ‖wpe[pos]‖      ‖x‖   x[0..{}]", walk.embedding.dims_shown))
    );
    for (i, &p) in rows.iter().enumerate() {
        let (r, t) = (&walk.embedding.rows[p], &walk.tokens[p]);
        if skipped(i) {
            say!("   {}", s.dim("…"));
        }
        say!(
            "   {:>3}  {}  {:>8.3}  {:>8.3}  {:>8.3}  {}",
            r.position,
            fit(&quoted(&token(walk, t.id)), 12),
            r.token_norm,
            r.position_norm,
            r.sum_norm,
            numbers(&r.sum, dims)
        );
    }

    for block in &walk.blocks {
        let l = block.layer;
        s.chapter(next(), &format!("Block {l}"), "x += attention(ln_1(x));  x += mlp(ln_2(x))");
        layer_norm(&s, &format!("Layer norm 1 (blocks.{l}.ln1)"), &block.ln_1, focus_label, dims);

        say!();
        say!(
            "   {} {}",
            s.bold("Self-attention"),
            s.dim(&format!(
                "· 自注意力机制  {} heads × d_head {}: softmax(q·k / √{}) with the causal mask (因果掩码), then Σ weight·v",
                m.n_head, m.d_head, m.d_head
            ))
        );
        let tok = |p: usize| fit(&quoted(&token(walk, walk.tokens[p].id)), 10);
        for chunk in block.attention.heads.chunks(4) {
            let header: Vec<String> = chunk.iter().map(|h| fit(&format!("head {}: reads", h.head), 24)).collect();
            say!("   {}", s.dim(&format!("pos  token        {}", header.join(" "))));
            for (i, &q) in rows.iter().enumerate() {
                if skipped(i) {
                    say!("   {}", s.dim("…"));
                }
                let cells: Vec<String> = chunk
                    .iter()
                    .map(|h| {
                        let row = &h.pattern[q];
                        let best = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |x| x.0);
                        let text = format!("{} {:.2} {}", bar(row[best], 4), row[best], tok(best).trim_end());
                        fit(&text, 24)
                    })
                    .collect();
                let line = format!("   {:>3}  {}   {}", q, tok(q), cells.join(" "));
                say!("{}", if q == focus { s.magenta(&line) } else { line });
            }
        }
        say!(
            "   {}",
            s.dim(&format!("position {focus} ({focus_label}) reads, per head (weight, score before softmax):"))
        );
        for h in &block.attention.heads {
            let reads: Vec<String> = h
                .focus_reads
                .iter()
                .take(3)
                .map(|r| {
                    format!(
                        "{}@{} {:.2} {}",
                        quoted(&token(walk, walk.tokens[r.position].id)),
                        r.position,
                        r.weight,
                        s.dim(&format!("(score {:+.2})", r.score))
                    )
                })
                .collect();
            say!("     head {:>2}  {}", h.head, reads.join("   "));
        }
        say!(
            "   {}",
            s.dim(&format!(
                "attention output ‖attn_out‖ at position {focus}: {:.3} (added to the residual stream)",
                block.attn_out_norm[focus]
            ))
        );

        layer_norm(&s, &format!("Layer norm 2 (blocks.{l}.ln2)"), &block.ln_2, focus_label, dims);
        say!();
        say!(
            "   {} {}",
            s.bold("MLP"),
            s.dim(&format!(
                "· 多层感知机  {} → {} (GELU) → {}: {} of {} neurons active (> 0) at position {focus}",
                m.n_embd, block.mlp.d_mlp, m.n_embd, block.mlp.active, block.mlp.d_mlp
            ))
        );
        let top_post = block.mlp.top.first().map_or(1.0, |n| n.post.abs().max(1e-6));
        for n in &block.mlp.top {
            say!(
                "     neuron {:>5}  pre {:>8.3} → GELU {:>8.3}  {}",
                n.neuron,
                n.pre,
                n.post,
                s.green(&bar(n.post / top_post, 16))
            );
        }
        say!(
            "   {}",
            s.dim(&format!(
                "MLP output ‖mlp_out‖ at position {focus}: {:.3} (added to the residual stream)",
                block.mlp_out_norm[focus]
            ))
        );
    }

    // the residual stream
    s.chapter(next(), "The residual stream", "残差流: ‖x‖ after each stage");
    let max_norm = walk.residual.norms.iter().flatten().copied().fold(0f32, f32::max).max(1e-6);
    let shown: Vec<usize> = if seq <= 8 { (0..seq).collect() } else { vec![0, seq / 2, focus] };
    let header: Vec<String> =
        shown.iter().map(|&p| right(&fit(&format!("{p}: {}", quoted(&token(walk, walk.tokens[p].id))), 12))).collect();
    say!("   {}", s.dim(&format!("{:<34} {}   ‖x‖ at position {focus}", "stage", header.join(" "))));
    for (stage, norms) in walk.residual.stages.iter().zip(&walk.residual.norms) {
        let cells: Vec<String> = shown.iter().map(|&p| format!("{:>12.3}", norms[p])).collect();
        say!("   {:<34} {}   {}", stage, cells.join(" "), s.cyan(&bar(norms[focus] / max_norm, 20)));
    }

    s.chapter(next(), "Final layer norm", "层归一化 ln_f");
    layer_norm(&s, "ln_f", &walk.ln_f, focus_label, dims);

    // logits
    let lg = &walk.logits;
    s.chapter(next(), "Linear head → logits", "线性层 → logits（未归一化分数）");
    say!(
        "   {}",
        s.dim(&format!(
            "logits = ln_f(x) · wteᵀ: one score per vocabulary token ({}) at position {focus}; range {:.3} to {:.3}, mean {:.3}",
            lg.vocab_size, lg.min, lg.max, lg.mean
        ))
    );
    // bars from the mean logit (an average token) up to the best
    let span = (lg.max - lg.mean).max(1e-6);
    for l in lg.top.iter().take(10) {
        say!(
            "     {}  {:>9.3}  {}",
            fit(&quoted(&token(walk, l.id)), 14),
            l.logit,
            s.cyan(&bar((l.logit - lg.mean) / span, 24))
        );
    }

    // softmax
    s.chapter(next(), "Softmax & sampling", "softmax（归一化指数函数） · 温度");
    say!(
        "   {}",
        s.dim("p = softmax(logits / T): low temperature sharpens towards the top token, high flattens; greedy takes the top")
    );
    for row in &walk.softmax.temperatures {
        say!(
            "   {} {}",
            s.bold(&format!("T = {}", row.temperature)),
            s.dim(&format!("(entropy {:.3} nats)", row.entropy))
        );
        for p in &row.top {
            say!(
                "     {}  {:>7.2}%  {}",
                fit(&quoted(&token(walk, p.id)), 14),
                100.0 * p.prob,
                s.green(&bar(p.prob, 30))
            );
        }
    }
    say!("   next token (greedy): {}", s.bold(&quoted(&token(walk, walk.softmax.predicted))));

    // logit lens
    s.chapter(next(), "Logit lens", "each layer's guess: softmax(ln_f(x) · wteᵀ) of the residual stream so far");
    let lens = &walk.lens;
    let cols: Vec<usize> = if seq <= 8 { (0..seq).collect() } else { (seq - 8..seq).collect() };
    let header: Vec<String> =
        cols.iter().map(|&p| fit(&format!("{p}: {}", quoted(&token(walk, walk.tokens[p].id))), 16)).collect();
    say!("   {}", s.dim(&format!("{:<28} {}", "reading", header.join(" "))));
    for (name, cells) in lens.layers.iter().zip(&lens.cells) {
        let row: Vec<String> = cols
            .iter()
            .map(|&p| {
                let c = &cells[p];
                fit(&format!("{} {:.2}", quoted(&token(walk, c.top[0].id)), c.top[0].prob), 16)
            })
            .collect();
        say!("   {:<28} {}", name, row.join(" "));
    }
    say!("   {}", s.dim("`glassbox lens` shows ranks and KL; `glassbox serve` draws all of this in the browser"));
}

fn layer_norm(s: &Style, title: &str, ln: &LayerNormFocus, focus_label: &str, dims: usize) {
    say!();
    say!(
        "   {} {}",
        s.bold(title),
        s.dim(&format!("· 层归一化 at position {} ({focus_label}), reading {}", ln.position, ln.input))
    );
    say!("     x      {}", numbers(&ln.x, dims));
    say!(
        "     E[x] = {:.5}   Var[x] = {:.5}   ε = {:e}   sqrt(Var[x] + ε) = {:.5}",
        ln.mean,
        ln.var,
        ln.epsilon,
        ln.std
    );
    say!("     γ      {}", numbers(&ln.gamma, dims));
    say!("     β      {}", numbers(&ln.beta, dims));
    say!("     {}    {}", s.bold("out"), numbers(&ln.normalized, dims));
    say!("     {}", s.dim("out = (x − E[x]) / sqrt(Var[x] + ε) · γ + β"));
}

pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The sequential view of a recurrent model: step after step, what each layer's gates did,
/// how large c and h became, how much of the step came from h_{t−1}, and how strongly
/// h_t depends on it; then the next-token prediction.
fn run_recurrent(args: Args) -> Result<()> {
    use glassbox::inspect::recurrent_steps::recurrent_steps;
    let (model, tokenizer) = glassbox::recurrent::files::load_recurrent_with_tokenizer(&args.model)?;
    if !args.interventions.is_empty() || args.position.is_some() {
        return Err(Error::input(
            "--ablate, --scale, --patch and --position follow a GPT's hooks; a recurrent model's walkthrough is every \
             step in order — drop them",
        )
        .into());
    }
    if args.top == 0 {
        return Err(Error::input("--top 0 shows nothing; use 1 or more").into());
    }
    let ids = match (&args.ids, &args.prompt, &tokenizer) {
        (Some(_), Some(_), _) => return Err(Error::input("give either a PROMPT or --ids, not both").into()),
        (Some(raw), None, _) => super::generate::parse_ids(raw)?,
        (None, Some(text), Some(t)) => t.encode_checked(text)?,
        (None, Some(_), None) => {
            return Err(Error::input(format!(
                "{} has no tokenizer files, so text cannot be encoded; pass token ids with --ids 1,2,3",
                args.model.display()
            ))
            .into())
        }
        (None, None, _) => return Err(Error::input("give a PROMPT or --ids").into()),
    };
    let steps = recurrent_steps(&model.params, &ids, args.dims, args.top)?;
    if args.json {
        say!("{}", serde_json::json!({"model": model.config.to_json(), "steps": steps}));
        return Ok(());
    }
    let s = Style::stdout();
    let text = |id: u32| -> String {
        tokenizer
            .as_ref()
            .and_then(|t| t.decode_bytes(&[id]).ok())
            .map_or_else(|| format!("#{id}"), |b| format!("{:?}", String::from_utf8_lossy(&b)))
    };
    let c = &model.config;
    say!("{}  {}  ·  {} parameters", s.bold(&args.model.display().to_string()), c.describe(), c.num_params());
    say!(
        "{}",
        s.dim(
            "one step per token, in order: step t needs h from step t − 1 (a transformer reads every position at once)"
        )
    );
    match c.cell {
        glassbox::recurrent::Cell::Lstm => say!(
            "{}",
            s.dim("gates: i = how much is written, f = how much of c is kept, |g| = the candidate, o = how much of c is shown")
        ),
        glassbox::recurrent::Cell::Rnn => say!("{}", s.dim("h_t = tanh(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh)")),
    }
    say!(
        "{}",
        s.dim(
            "from h_{t−1}: the old state's share of the step's input; ‖∂h/∂h_{t−1}‖: the most a change in h_{t−1} is \
             amplified in h_t (below 1 the past fades)"
        )
    );
    for step in &steps {
        say!("\n{} {}", s.bold(&format!("step {:>3}", step.position)), text(step.id));
        for (k, layer) in step.layers.iter().enumerate() {
            let gates = layer.gates.map_or(String::new(), |[i, f, g, o]| {
                format!("i {i:.2}  f {f:.2}  |g| {g:.2}  o {o:.2}  ‖c‖ {:>6.2}  ", layer.cell_norm.unwrap_or(0.0))
            });
            say!(
                "  layer {k}: {gates}‖h‖ {:>5.2}  from h_{{t−1}} {:>3.0}%  ‖∂h/∂h_{{t−1}}‖ {:.2}  h {}",
                layer.hidden_norm,
                100.0 * layer.recurrent_share,
                layer.dependence,
                layer.hidden_head.iter().map(|v| format!("{v:+.2}")).collect::<Vec<_>>().join(" ")
            );
        }
        let next: Vec<String> = step.top.iter().map(|&(id, p)| format!("{} {:.1}%", text(id), 100.0 * p)).collect();
        say!("  next: {}", next.join(", "));
    }
    Ok(())
}
