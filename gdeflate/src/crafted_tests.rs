//! The crafted pages of [`crate::crafted`] on the CPU decoder: each gives exactly its error,
//! and the controls decode.

use crate::crafted::crafted_pages;
use crate::decode::decode_page;

#[test]
fn every_crafted_page_gives_exactly_its_error_and_the_controls_decode() {
    let pages = crafted_pages();
    assert!(pages.len() >= 14);
    for c in pages {
        let mut out = vec![0xFFu8; c.size];
        let got = decode_page(&c.page, &mut out).map(|()| out).map_err(|e| e.kind);
        assert_eq!(got, c.expected, "{}", c.name);
    }
}
