"""Checks that a model directory glassbox saved loads in Hugging Face transformers and
computes the fixture's logits. Not part of the tests (it needs torch + transformers):

  cargo run --release -- convert ../shared/conformance/small --out /tmp/saved-small
  /tmp/peer/bin/python bench/hf_load_check.py ../shared/conformance/small /tmp/saved-small
"""
import sys, torch, json
from transformers import GPT2LMHeadModel
from safetensors.torch import load_file
src, saved = sys.argv[1], sys.argv[2]
m = GPT2LMHeadModel.from_pretrained(saved, attn_implementation="eager").eval()
exp = load_file(src + "/expected.safetensors")
with torch.no_grad():
    out = m(exp["input_ids"]).logits
d = (out - exp["logits"]).abs().max().item()
print(json.dumps({"dir": saved, "max_abs_logit_diff_vs_fixture": d, "ok": d < 1e-4 * (1 + exp["logits"].abs().max().item())}))
