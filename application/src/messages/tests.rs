//! The messaging use cases over in-memory stores and scripted ports.
