//! signal: see README.md. (Being built.)
