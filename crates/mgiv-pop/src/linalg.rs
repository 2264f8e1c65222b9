//! Small dense linear algebra (dimension ≤ ~8): Cholesky factor, solves, inverse. Row-major.
//! One implementation, in mgiv-core (`mgiv_core::numerics`), re-exported here.

pub use mgiv_core::numerics::{
    cholesky, cholesky_inverse, cholesky_logdet, cholesky_solve, lower_mul,
};
