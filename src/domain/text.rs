//! Text files as Russian offices save them: a byte-order mark says UTF-8 or UTF-16; without one,
//! UTF-8 if the bytes are valid UTF-8, else Windows-1251 (what Excel and older registry files
//! write).

/// The text of `bytes`, decoded as above (never fails: Windows-1251 maps every byte).
pub fn decode_office_text(bytes: &[u8]) -> String {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc
            .decode_without_bom_handling(&bytes[bom..])
            .0
            .into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1251.decode(bytes).0.into_owned(),
    }
}
