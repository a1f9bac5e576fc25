//! The residual connection: `x = x + f(x)`. Each block adds its attention output and its
//! MLP output to the residual stream. Its backward is the identity: the gradient of the
//! stream flows unchanged into both branches, so `model::backward` keeps one running
//! gradient of the stream and adds each branch's contribution to it.

/// out = a + b, elementwise.
pub fn residual_forward(out: &mut [f32], a: &[f32], b: &[f32]) {
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        *o = x + y;
    }
}
