//! web: see README.md. (Being built.)
