//! Where the prompt's and the banner's parts go, from the screen's size,
//! the font's cell and the text alone: no X connection, so tests check
//! the geometry and click the buttons it names.

/// A rectangle: the window's in root coordinates, its parts' in the
/// window's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: i16,
    /// Top edge.
    pub y: i16,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

impl Rect {
    /// The point in its middle.
    pub fn centre(&self) -> (i16, i16) {
        (
            clamp(i32::from(self.x) + i32::from(self.width) / 2),
            clamp(i32::from(self.y) + i32::from(self.height) / 2),
        )
    }

    /// The point lies inside.
    pub fn contains(&self, x: i16, y: i16) -> bool {
        let (x, y) = (i32::from(x), i32::from(y));
        x >= i32::from(self.x)
            && y >= i32::from(self.y)
            && x < i32::from(self.x) + i32::from(self.width)
            && y < i32::from(self.y) + i32::from(self.height)
    }
}

/// The cell of a fixed-width font, as the server's QueryFont says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FontMetrics {
    /// Advance of every character.
    pub char_width: u16,
    /// Pixels above the baseline.
    pub ascent: u16,
    /// Pixels below the baseline.
    pub descent: u16,
}

impl FontMetrics {
    fn text_height(&self) -> u32 {
        u32::from(self.ascent) + u32::from(self.descent)
    }

    fn line_height(&self) -> u32 {
        self.text_height() + 4
    }

    fn width_of(&self, chars: usize) -> u32 {
        u32::try_from(chars)
            .unwrap_or(u32::MAX)
            .saturating_mul(u32::from(self.char_width.max(1)))
    }

    /// How many characters fit in `width` pixels.
    fn chars_in(&self, width: u32) -> usize {
        usize::try_from(width / u32::from(self.char_width.max(1))).unwrap_or(usize::MAX)
    }
}

/// One line of text to draw: Latin-1 bytes (the core font's encoding),
/// already cut to fit, at the left end of its baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextLine {
    /// Left end.
    pub x: i16,
    /// Baseline.
    pub baseline: i16,
    /// The characters, at most 255 (ImageText8's limit).
    pub bytes: Vec<u8>,
}

/// The prompt's window and its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptLayout {
    /// The window, centred on the screen (root coordinates).
    pub window: Rect,
    /// The "Allow" button (window coordinates).
    pub allow: Rect,
    /// The "Deny" button (window coordinates).
    pub deny: Rect,
    /// The title then the lines, top to bottom.
    pub text: Vec<TextLine>,
}

/// The banner's window and its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BannerLayout {
    /// The strip across the top of the screen (root coordinates).
    pub window: Rect,
    /// The "End session" button at its right (window coordinates).
    pub end: Rect,
    /// The banner's sentence.
    pub text: TextLine,
}

/// The label of the prompt's accepting button.
pub const ALLOW: &str = "Allow";
/// The label of the prompt's refusing button.
pub const DENY: &str = "Deny";
/// The label of the banner's button.
pub const END: &str = "End session";

const PAD: u32 = 16;
const MARGIN: u32 = 8;
const MIN_WIDTH: u32 = 360;
const BUTTON_GAP: u32 = 24;
const BUTTON_PAD: u32 = 20;
const MAX_LINES: usize = 20;
const BANNER_HEIGHT: u32 = 28;

/// The prompt for a screen of `screen_w` x `screen_h`: the title, a
/// half-line gap, the lines, then Allow and Deny side by side, centred.
/// Text too long for the screen is cut with "..."; lines past 20 (or
/// past what the screen's height holds) are left out.
pub fn prompt_layout(
    screen_w: u16,
    screen_h: u16,
    font: FontMetrics,
    title: &str,
    lines: &[String],
) -> PromptLayout {
    let (screen_w, screen_h) = (u32::from(screen_w), u32::from(screen_h));
    let line_h = font.line_height();
    let button_w = font.width_of(ALLOW.len().max(DENY.len())) + 2 * BUTTON_PAD;
    let button_h = font.text_height() + 12;
    let buttons_w = 2 * button_w + BUTTON_GAP;
    let widest = std::iter::once(title)
        .chain(lines.iter().map(String::as_str))
        .map(|l| font.width_of(l.chars().count()))
        .max()
        .unwrap_or(0);
    let most = screen_w
        .saturating_sub(2 * MARGIN)
        .max(MIN_WIDTH.min(screen_w));
    let width = (widest.max(buttons_w) + 2 * PAD).clamp(MIN_WIDTH.min(most), most);
    let fits = font.chars_in(width.saturating_sub(2 * PAD));

    // Every line the screen's height holds below the title and above
    // the buttons, at most MAX_LINES.
    let fixed = 2 * PAD + line_h + line_h / 2 + PAD + button_h;
    let room = screen_h.saturating_sub(2 * MARGIN).saturating_sub(fixed) / line_h.max(1);
    let shown = lines
        .len()
        .min(MAX_LINES)
        .min(usize::try_from(room).unwrap_or(usize::MAX));

    let baseline = |top: u32| clamp_u(top + u32::from(font.ascent));
    let mut text = vec![TextLine {
        x: clamp_u(PAD),
        baseline: baseline(PAD),
        bytes: latin1(title, fits),
    }];
    let mut top = PAD + line_h + line_h / 2;
    for line in &lines[..shown] {
        text.push(TextLine {
            x: clamp_u(PAD),
            baseline: baseline(top),
            bytes: latin1(line, fits),
        });
        top += line_h;
    }
    let buttons_top = top + PAD;
    let height = buttons_top + button_h + PAD;
    let left = width.saturating_sub(buttons_w) / 2;
    let button = |x: u32| Rect {
        x: clamp_u(x),
        y: clamp_u(buttons_top),
        width: clamp_w(button_w),
        height: clamp_w(button_h),
    };
    PromptLayout {
        window: Rect {
            x: clamp_u(screen_w.saturating_sub(width) / 2),
            y: clamp_u(screen_h.saturating_sub(height) / 2),
            width: clamp_w(width),
            height: clamp_w(height),
        },
        allow: button(left),
        deny: button(left + button_w + BUTTON_GAP),
        text,
    }
}

/// The banner for a screen `screen_w` wide: full width, 28 pixels high
/// (more if the font is taller), the sentence at the left, cut with
/// "..." before it reaches the button at the right.
pub fn banner_layout(screen_w: u16, font: FontMetrics, text: &str) -> BannerLayout {
    let screen_w = u32::from(screen_w);
    let height = BANNER_HEIGHT.max(font.text_height() + 8);
    let end_w = font.width_of(END.len()) + 24;
    let end = Rect {
        x: clamp_u(screen_w.saturating_sub(end_w + 4)),
        y: 3,
        width: clamp_w(end_w),
        height: clamp_w(height - 6),
    };
    let room = screen_w.saturating_sub(end_w + 4 + 2 * 10);
    BannerLayout {
        window: Rect {
            x: 0,
            y: 0,
            width: clamp_w(screen_w),
            height: clamp_w(height),
        },
        end,
        text: TextLine {
            x: 10,
            baseline: clamp_u((height - font.text_height()) / 2 + u32::from(font.ascent)),
            bytes: latin1(text, font.chars_in(room)),
        },
    }
}

/// A button's label centred in it.
pub fn label_in(button: Rect, label: &str, font: FontMetrics) -> TextLine {
    let bytes = latin1(label, font.chars_in(u32::from(button.width)));
    let text_w = font.width_of(bytes.len());
    let x = i32::from(button.x) + (i32::from(button.width) - clamp_i(text_w)) / 2;
    let y = i32::from(button.y)
        + (i32::from(button.height) - clamp_i(font.text_height())) / 2
        + i32::from(font.ascent);
    TextLine {
        x: clamp(x),
        baseline: clamp(y),
        bytes,
    }
}

/// `text` in the core font's Latin-1, at most `max` characters (and
/// 255): control characters become spaces, characters outside Latin-1
/// '?', and a longer text ends in "...".
pub fn latin1(text: &str, max: usize) -> Vec<u8> {
    let max = max.min(255);
    let byte = |c: char| match u8::try_from(u32::from(c)) {
        _ if c.is_control() => b' ',
        Ok(b) => b,
        Err(_) => b'?',
    };
    if text.chars().count() <= max {
        return text.chars().map(byte).collect();
    }
    let keep = max.saturating_sub(3);
    let mut out: Vec<u8> = text.chars().take(keep).map(byte).collect();
    out.extend(b"...".iter().take(max - keep));
    out
}

fn clamp(v: i32) -> i16 {
    i16::try_from(v.clamp(i32::from(i16::MIN), i32::from(i16::MAX))).unwrap_or(0)
}

fn clamp_i(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn clamp_u(v: u32) -> i16 {
    i16::try_from(v).unwrap_or(i16::MAX)
}

fn clamp_w(v: u32) -> u16 {
    u16::try_from(v.max(1)).unwrap_or(u16::MAX)
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
