//! `glassbox knowledge RUN [--samples N] [--json] [--out FILE.svg]`: where a model trained
//! on `--task facts` keeps its facts — recall on trained and held-out templates, causal
//! tracing averaged over the facts by token role (ROME's Figure 1), direct logit
//! attribution by layer, and recall with MLP layers zero- or mean-ablated: the ones
//! tracing points to against the others. The work is in `inspect::knowledge`.

use super::causal::{kind_panels, shade_range};
use super::explain::{bar, Style};
use crate::output::say;
use anyhow::Result;
use glassbox::inspect::heatmap::heatmaps_svg;
use glassbox::inspect::knowledge::{knowledge, KnowledgeOptions, KnowledgeReport};
use glassbox::train::Task;
use glassbox::Error;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A run directory from `glassbox train --task facts`.
    model: PathBuf,
    /// Noise samples per traced fact.
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// The noise's size in standard deviations of the token embeddings' entries.
    #[arg(long, default_value_t = 3.0)]
    noise: f32,
    /// The noise's seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Trace at most this many recalled facts.
    #[arg(long, default_value_t = 96)]
    max_traced: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write the averaged tracing heatmaps as an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let (model, _) = super::trace::load(&args.model)?;
    let task = Task::of_run(&args.model).ok_or_else(|| {
        Error::input(format!(
            "{} is not a run trained on a built-in task; train one with `glassbox train --task facts --out DIR`",
            args.model.display()
        ))
    })?;
    if !(args.noise.is_finite() && args.noise > 0.0) {
        return Err(Error::input("--noise must be a positive number of standard deviations, e.g. 3").into());
    }
    if let Some(out) = &args.out {
        glassbox::io::check_file_target(out)?;
    }
    let options =
        KnowledgeOptions { samples: args.samples, noise: args.noise, seed: args.seed, max_traced: args.max_traced };
    let report = knowledge(&model.params, &task, &options)?;
    if let Some(out) = &args.out {
        let svg = report_svg(&report);
        glassbox::io::write_atomic(out, |w| w.write_all(svg.as_bytes()))?;
    }
    if args.json {
        say!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    print_report(&args, &report);
    Ok(())
}

fn report_svg(report: &KnowledgeReport) -> String {
    let range = shade_range(report.tracing.iter().map(|k| &k.prob), report.clean_prob, report.corrupted_prob);
    let panels = kind_panels(report.tracing.iter().map(|k| (k.kind, &k.prob[..])), range);
    let labels: Vec<String> = report.roles.iter().map(|r| r.to_string()).collect();
    let marked: Vec<bool> = (0..labels.len()).map(|r| r < 3).collect();
    let title = format!(
        "causal tracing averaged over {} facts: P(answer) restored, clean {:.3}, corrupted {:.3}",
        report.traced, report.clean_prob, report.corrupted_prob
    );
    heatmaps_svg(&title, &labels, &marked, "layer", &panels)
}

fn percent(x: f32) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn print_report(args: &Args, r: &KnowledgeReport) {
    let s = Style::stdout();
    say!("{}  {}", s.bold("glassbox knowledge"), args.model.display());
    say!("  {} people, {} facts (home city, favourite colour, job)", r.people, r.facts);
    say!(
        "  recall (whole answer): {} on the templates each fact was trained in, {} on the template held out for it",
        s.bold(&percent(r.recall.trained)),
        s.bold(&percent(r.recall.held_out))
    );

    say!();
    say!(
        "  {} {}",
        s.bold("causal tracing, averaged"),
        s.dim(&format!(
            "({} recalled facts; noise {}σ on the name, {} samples, seed {}): P(first letter of the answer) with one \
             state restored; clean {:.3}, corrupted {:.3}",
            r.traced, args.noise, r.samples, r.seed, r.clean_prob, r.corrupted_prob
        ))
    );
    let layers = r.tracing.first().and_then(|k| k.prob.first()).map_or(0, Vec::len);
    let (_, high) = shade_range(r.tracing.iter().map(|k| &k.prob), r.clean_prob, r.corrupted_prob);
    for (k, name) in r.tracing.iter().zip(["residual stream after the block", "attention output", "MLP output"]) {
        say!();
        let header: String = (0..layers).map(|l| format!("{:>7}", format!("L{l}"))).collect();
        say!("  {:<26}{}", s.bold(name), s.dim(&header));
        for (role, row) in r.roles.iter().zip(&k.prob) {
            let cells: String = row
                .iter()
                .map(|&p| {
                    let text = format!("{p:>7.3}");
                    if (p - r.corrupted_prob) > 0.5 * (high - r.corrupted_prob) {
                        s.green(&text)
                    } else {
                        text
                    }
                })
                .collect();
            say!("  {:<26}{}", role, cells);
        }
    }
    say!("  {}", s.dim("green: more than halfway from the corrupted to the highest restored probability"));

    say!();
    say!(
        "  {} {}",
        s.bold("direct logit attribution"),
        s.dim(&format!("(mean over the traced facts; the first letter's logit is {:.2})", r.attribution.logit))
    );
    let largest =
        r.attribution.attn.iter().chain(&r.attribution.mlp).fold(r.attribution.embed.abs(), |m, x| m.max(x.abs()));
    let line = |name: &str, value: f32| {
        let text = bar(value.abs() / largest.max(1e-9), 20);
        say!("  {:<18} {:>+8.3} {}", name, value, if value >= 0.0 { s.green(&text) } else { s.magenta(&text) });
    };
    line("embed", r.attribution.embed);
    for layer in 0..r.attribution.attn.len() {
        line(&format!("layer {layer} attention"), r.attribution.attn[layer]);
        line(&format!("layer {layer} MLP"), r.attribution.mlp[layer]);
    }
    line("ln_final β", r.attribution.ln_final_bias);

    say!();
    say!(
        "  {} {}",
        s.bold("ablation"),
        s.dim(&format!(
            "(recall with MLPs removed; tracing points to the MLPs of layers {:?} at the {}, the others are {:?})",
            r.traced_layers, r.roles[r.traced_role], r.other_layers
        ))
    );
    say!("  {}", s.dim(&format!("{:<26} {:>6} {:>9} {:>9}", "MLPs removed", "how", "trained", "held out")));
    for a in &r.ablations {
        let what = match a.what.as_str() {
            "traced" => format!("traced {:?}", a.layers),
            "other" => format!("other {:?}", a.layers),
            other => other.to_string(),
        };
        say!("  {:<26} {:>6} {:>9} {:>9}", what, a.how, percent(a.recall.trained), percent(a.recall.held_out));
    }
    let find = |what: &str, how: &str| r.ablations.iter().find(|a| a.what == what && a.how == how);
    if let (Some(traced), Some(other)) = (find("traced", "mean"), find("other", "mean")) {
        say!();
        say!(
            "  mean-ablating the MLPs tracing points to ({:?}) leaves {} of the trained recall; the same number of \
             other MLPs ({:?}), {}",
            traced.layers,
            percent(traced.recall.trained),
            other.layers,
            percent(other.recall.trained)
        );
    }
    if let Some(out) = &args.out {
        say!("  {} {}", s.green("wrote"), out.display());
    }
}
