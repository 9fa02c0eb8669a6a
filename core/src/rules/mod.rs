//! Composable rules: the language (`spec`), compilation into a `Rulebook` (`compile`), and the
//! evaluation of a purchase (`evaluate`).

pub mod compile;
pub mod evaluate;
pub mod spec;
