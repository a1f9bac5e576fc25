//! Principal component analysis to two dimensions, by power iteration: centre the vectors,
//! then repeatedly multiply a direction by the covariance (Xᵀ·X·v, never forming the
//! C×C matrix) until it stops turning; that is the direction of most variance. The second
//! is found the same way, kept orthogonal to the first. Also k-means, to colour clusters.

/// Points projected on the first two principal components.
#[derive(Clone, Debug)]
pub struct Projection {
    /// (PC1, PC2) coordinates of each input vector.
    pub coords: Vec<[f32; 2]>,
    /// The fraction of the total variance each component explains.
    pub explained: [f32; 2],
}

fn normalize(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

/// Projects `rows` (all the same length) on their first two principal components.
/// Deterministic: a fixed start vector, and each component's sign chosen so that its
/// largest-magnitude coordinate is positive.
pub fn pca_2d(rows: &[Vec<f32>]) -> Projection {
    let n = rows.len();
    let dim = rows.first().map_or(0, Vec::len);
    if n == 0 || dim == 0 {
        return Projection { coords: vec![[0.0; 2]; n], explained: [0.0; 2] };
    }
    let mut mean = vec![0f64; dim];
    for row in rows {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x as f64 / n as f64;
        }
    }
    let centred: Vec<Vec<f64>> =
        rows.iter().map(|r| r.iter().zip(&mean).map(|(&x, m)| x as f64 - m).collect()).collect();
    let total: f64 = centred.iter().flatten().map(|x| x * x).sum::<f64>() / n as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    // Xᵀ(X v) / n
    let covariance_times = |v: &[f64]| {
        let mut out = vec![0f64; dim];
        for row in &centred {
            let s = dot(row, v);
            for (o, x) in out.iter_mut().zip(row) {
                *o += s * x / n as f64;
            }
        }
        out
    };
    let mut components: Vec<Vec<f64>> = Vec::new();
    let mut variances = [0f64; 2];
    for (k, variance) in variances.iter_mut().enumerate() {
        let mut v: Vec<f64> = (0..dim).map(|i| 1.0 + ((i * 7 + k * 3) % 11) as f64 / 11.0).collect();
        let mut lambda = 0.0;
        for _ in 0..1000 {
            for c in &components {
                let p = dot(&v, c);
                v.iter_mut().zip(c).for_each(|(x, y)| *x -= p * y);
            }
            normalize(&mut v);
            let mut next = covariance_times(&v);
            for c in &components {
                let p = dot(&next, c);
                next.iter_mut().zip(c).for_each(|(x, y)| *x -= p * y);
            }
            let new_lambda = normalize(&mut next);
            let turned = 1.0 - dot(&next, &v).abs();
            v = next;
            let settled = (new_lambda - lambda).abs() <= 1e-12 * new_lambda.max(1e-30) && turned < 1e-12;
            lambda = new_lambda;
            if settled || lambda == 0.0 {
                break;
            }
        }
        let biggest = v.iter().copied().fold(0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        if biggest < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        *variance = lambda;
        components.push(v);
    }
    let coords = centred.iter().map(|r| [dot(r, &components[0]) as f32, dot(r, &components[1]) as f32]).collect();
    let explained =
        if total > 0.0 { [(variances[0] / total) as f32, (variances[1] / total) as f32] } else { [0.0, 0.0] };
    Projection { coords, explained }
}

/// k-means on unit-normalised vectors (so: clusters by direction, as cosine similarity
/// sees them), initialised by farthest-point from the first vector. Returns each vector's
/// cluster, numbered by first appearance.
pub fn kmeans(rows: &[Vec<f32>], k: usize) -> Vec<usize> {
    let n = rows.len();
    if n == 0 || k <= 1 {
        return vec![0; n];
    }
    let units: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| {
            let mut v: Vec<f64> = r.iter().map(|&x| x as f64).collect();
            normalize(&mut v);
            v
        })
        .collect();
    let distance = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
    let mut centres = vec![units[0].clone()];
    while centres.len() < k.min(n) {
        let far = (0..n)
            .max_by(|&a, &b| {
                let da = centres.iter().map(|c| distance(&units[a], c)).fold(f64::MAX, f64::min);
                let db = centres.iter().map(|c| distance(&units[b], c)).fold(f64::MAX, f64::min);
                da.total_cmp(&db).then(b.cmp(&a))
            })
            .expect("n > 0");
        centres.push(units[far].clone());
    }
    let mut assignment = vec![0usize; n];
    for _ in 0..50 {
        let mut changed = false;
        for (i, u) in units.iter().enumerate() {
            let best = (0..centres.len())
                .min_by(|&a, &b| distance(u, &centres[a]).total_cmp(&distance(u, &centres[b])))
                .expect("k ≥ 1");
            if assignment[i] != best {
                assignment[i] = best;
                changed = true;
            }
        }
        for (c, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&Vec<f64>> =
                units.iter().zip(&assignment).filter(|(_, &a)| a == c).map(|(u, _)| u).collect();
            if members.is_empty() {
                continue;
            }
            for (j, x) in centre.iter_mut().enumerate() {
                *x = members.iter().map(|m| m[j]).sum::<f64>() / members.len() as f64;
            }
        }
        if !changed {
            break;
        }
    }
    // renumber by first appearance so colours are stable
    let mut names: Vec<Option<usize>> = vec![None; centres.len()];
    let mut next = 0;
    assignment
        .iter()
        .map(|&a| {
            *names[a].get_or_insert_with(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_directions_of_most_variance() {
        // points spread along (1, 1, 0) a lot and along (1, −1, 0) a little
        let rows: Vec<Vec<f32>> = (-5..=5)
            .flat_map(|a| [-1, 1].map(move |b| vec![a as f32 + 0.1 * b as f32, a as f32 - 0.1 * b as f32, 3.0]))
            .collect();
        let p = pca_2d(&rows);
        assert!(p.explained[0] > 0.99 && p.explained[1] > 0.0 && p.explained[0] + p.explained[1] > 0.9999);
        // PC1 coordinate is (x + y)/√2 up to sign (made positive-major)
        for (row, c) in rows.iter().zip(&p.coords) {
            assert!((c[0].abs() - ((row[0] + row[1]) / 2f32.sqrt()).abs()).abs() < 1e-3);
        }
        let clusters = kmeans(&[vec![1.0, 0.0], vec![0.9, 0.1], vec![0.0, 1.0], vec![0.1, 1.0]], 2);
        assert_eq!(clusters, vec![0, 0, 1, 1]);
    }
}
