//! Embedding: each token id picks a row of `wte` (its vector in the semantic space) and
//! each position a row of `wpe`; their sum is the start of the residual stream,
//! `hidden_states.0` = `blocks.0.hook_resid_pre`.

/// out[b, t, :] = wte[ids[b, t], :] + wpe[t, :]; ids are [B, T] (already checked < V).
pub fn embedding_forward(out: &mut [f32], ids: &[u32], wte: &[f32], wpe: &[f32], seq: usize, c: usize) {
    for (row, (out_row, &id)) in out.chunks_exact_mut(c).zip(ids).enumerate() {
        let t = row % seq;
        let token = &wte[id as usize * c..(id as usize + 1) * c];
        let position = &wpe[t * c..(t + 1) * c];
        for ((o, a), b) in out_row.iter_mut().zip(token).zip(position) {
            *o = a + b;
        }
    }
}

/// Scatters the gradient back into the rows that were read: dwte[id] += dout, dwpe[t] += dout.
pub fn embedding_backward(dwte: &mut [f32], dwpe: &mut [f32], dout: &[f32], ids: &[u32], seq: usize, c: usize) {
    for (row, (d, &id)) in dout.chunks_exact(c).zip(ids).enumerate() {
        let t = row % seq;
        for (g, v) in dwte[id as usize * c..(id as usize + 1) * c].iter_mut().zip(d) {
            *g += v;
        }
        for (g, v) in dwpe[t * c..(t + 1) * c].iter_mut().zip(d) {
            *g += v;
        }
    }
}
