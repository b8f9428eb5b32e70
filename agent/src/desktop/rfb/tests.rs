use super::*;

/// A small deterministic PRNG (xorshift64*), so the fuzz-like tests
/// repeat exactly.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn decode_all(d: &mut ClientDecoder) -> Result<Vec<ClientMessage>, ProtocolError> {
    let mut out = Vec::new();
    while let Some(m) = d.next_message()? {
        out.push(m);
    }
    Ok(out)
}

/// A whole 3.8 session from a client: handshake, then one of each message.
fn session_bytes() -> (Vec<u8>, Vec<ClientMessage>) {
    let mut b = b"RFB 003.008\n".to_vec();
    b.push(1); // security None
    b.push(1); // shared
    b.extend_from_slice(&[0, 0, 0, 0]);
    let pf = PixelFormat {
        big_endian: true,
        ..PixelFormat::RGB565
    };
    b.extend_from_slice(&pf.to_bytes());
    b.extend_from_slice(&[2, 0, 0, 3]);
    for e in [6i32, 1, -223] {
        b.extend_from_slice(&e.to_be_bytes());
    }
    b.extend_from_slice(&[3, 1, 0, 1, 0, 2, 0, 3, 0, 4]);
    b.extend_from_slice(&[4, 1, 0, 0, 0, 0, 0, 0x61]);
    b.extend_from_slice(&[5, 1, 0, 10, 0, 20]);
    b.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 3, b'h', 0xe9, b'!']);
    let msgs = vec![
        ClientMessage::Version(Version::V3_8),
        ClientMessage::SecurityType(1),
        ClientMessage::ClientInit { shared: true },
        ClientMessage::SetPixelFormat(pf),
        ClientMessage::SetEncodings(vec![6, 1, -223]),
        ClientMessage::UpdateRequest {
            incremental: true,
            x: 1,
            y: 2,
            w: 3,
            h: 4,
        },
        ClientMessage::Key {
            down: true,
            keysym: 0x61,
        },
        ClientMessage::Pointer {
            buttons: 1,
            x: 10,
            y: 20,
        },
        ClientMessage::CutText("hé!".into()),
    ];
    (b, msgs)
}

#[test]
fn a_whole_session_decodes() {
    let (bytes, want) = session_bytes();
    let mut d = ClientDecoder::new();
    d.push(&bytes);
    assert_eq!(decode_all(&mut d).expect("no error"), want);
}

#[test]
fn any_split_decodes_the_same() {
    let (bytes, want) = session_bytes();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..500 {
        let mut d = ClientDecoder::new();
        let mut got = Vec::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(7));
            d.push(&rest[..n]);
            rest = &rest[n..];
            got.extend(decode_all(&mut d).expect("no error"));
        }
        assert_eq!(got, want);
    }
}

#[test]
fn versions_3_3_and_3_7_are_accepted() {
    let mut d = ClientDecoder::new();
    d.push(b"RFB 003.003\n\x00");
    assert_eq!(
        decode_all(&mut d).expect("no error"),
        vec![
            ClientMessage::Version(Version::V3_3),
            ClientMessage::ClientInit { shared: false }
        ]
    );
    let mut d = ClientDecoder::new();
    d.push(b"RFB 003.007\n\x01\x01");
    assert_eq!(decode_all(&mut d).expect("no error").len(), 3);
    let mut d = ClientDecoder::new();
    d.push(b"RFB 003.889\n");
    assert_eq!(
        decode_all(&mut d).expect("no error"),
        vec![ClientMessage::Version(Version::V3_8)]
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let cases: &[(&[u8], ProtocolError)] = &[
        (
            b"GET / HTTP/1.1\r\n",
            ProtocolError::BadVersion("GET / HTTP/1".into()),
        ),
        (
            b"RFB 004.000\n",
            ProtocolError::BadVersion("RFB 004.000\n".into()),
        ),
        (b"RFB 003.008\n\x02", ProtocolError::BadSecurity(2)),
        (
            b"RFB 003.008\n\x01\x01\x09",
            ProtocolError::UnknownMessage(9),
        ),
        (
            b"RFB 003.008\n\x01\x01\x06\0\0\0\xff\xff\xff\xff",
            ProtocolError::CutTextTooLong(u32::MAX),
        ),
    ];
    for (bytes, want) in cases {
        let mut d = ClientDecoder::new();
        d.push(bytes);
        assert_eq!(decode_all(&mut d).as_ref(), Err(want), "{bytes:?}");
        d.push(b"RFB 003.008\n");
        assert_eq!(d.next_message(), Err(ProtocolError::Failed));
    }
}

#[test]
fn colour_maps_and_odd_formats_are_refused() {
    let mut pf = PixelFormat::RGB888.to_bytes();
    pf[3] = 0;
    assert!(PixelFormat::from_bytes(&pf).is_err());
    let mut pf = PixelFormat::RGB888.to_bytes();
    pf[0] = 24;
    assert!(PixelFormat::from_bytes(&pf).is_err());
    let mut pf = PixelFormat::RGB888.to_bytes();
    pf[10] = 30;
    assert!(PixelFormat::from_bytes(&pf).is_err());
    assert_eq!(
        PixelFormat::from_bytes(&PixelFormat::RGB888.to_bytes()),
        Ok(PixelFormat::RGB888)
    );
}

#[test]
fn random_bytes_in_random_splits_never_panic() {
    let mut rng = Rng(42);
    let (session, _) = session_bytes();
    for round in 0..3000 {
        // Half the rounds start with a valid handshake, so the random
        // bytes reach the message decoder.
        let mut bytes = if round % 2 == 0 {
            session[..14].to_vec()
        } else {
            Vec::new()
        };
        let n = rng.below(300);
        bytes.extend((0..n).map(|_| {
            // Bias towards valid message types and small lengths.
            match rng.below(4) {
                0 => rng.below(7) as u8,
                _ => rng.next() as u8,
            }
        }));
        let mut d = ClientDecoder::new();
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let k = 1 + rng.below(rest.len().min(40));
            d.push(&rest[..k]);
            rest = &rest[k..];
            if decode_all(&mut d).is_err() {
                break;
            }
        }
    }
}

#[test]
fn server_messages_have_their_wire_form() {
    assert_eq!(security_offer(Version::V3_3), vec![0, 0, 0, 1]);
    assert_eq!(security_offer(Version::V3_8), vec![1, 1]);
    assert_eq!(security_ok(Version::V3_7), Vec::<u8>::new());
    assert_eq!(security_ok(Version::V3_8), vec![0, 0, 0, 0]);
    let init = server_init(1920, 1080, &PixelFormat::RGB888, "pc");
    assert_eq!(&init[..4], &[7, 128, 4, 56]);
    assert_eq!(&init[20..], &[0, 0, 0, 2, b'p', b'c']);
    assert_eq!(
        server_cut_text("a€"),
        vec![3, 0, 0, 0, 0, 0, 0, 2, b'a', b'?']
    );
}
