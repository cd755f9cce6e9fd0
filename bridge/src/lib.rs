//! bridge: see README.md. (Being built.)
