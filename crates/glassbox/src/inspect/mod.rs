//! Inspection: trace, explain, logit lens, head detectors, interventions, semantic space. (Being written.)
