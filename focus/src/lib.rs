//! focus: see README.md. (Being built.)
