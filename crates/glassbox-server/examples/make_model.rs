//! Writes a randomly initialised model directory with a character tokenizer, for trying
//! `glassbox serve` and for the serving benchmark:
//!
//! ```text
//! cargo run -p glassbox-server --example make_model -- OUT [PRESET] [SEED]
//! ```
//! PRESET is a `GptConfig` preset (default `baby`: 4 layers, 4 heads, 128 dims, 65 tokens,
//! context 64); the 65 characters are tiny shakespeare's.

use glassbox::tokenizer::{CharTokenizer, Tokenizer};
use glassbox::GptConfig;

const SHAKESPEARE_CHARS: &str = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: make_model OUT [PRESET] [SEED]")?;
    let preset = args.next().unwrap_or_else(|| "baby".to_string());
    let seed: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1337);
    let mut config = GptConfig::preset(&preset)?;
    let chars: Vec<char> = SHAKESPEARE_CHARS.chars().take(config.vocab_size).collect();
    config.vocab_size = chars.len();
    let params = glassbox::model::Params::init_random(&config, seed);
    let dir = std::path::Path::new(&out);
    glassbox::io::save_model(dir, &config, &params)?;
    Tokenizer::Char(CharTokenizer::from_chars(chars)?).save(dir)?;
    println!("wrote {} ({} parameters)", dir.display(), config.num_params());
    Ok(())
}
