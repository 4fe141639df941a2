//! A small page layout: a cursor that moves down an A4 page, starts a new page when a block does
//! not fit, and records text, rules and shaded boxes per page; tables with multi-line cells that
//! repeat their header after a page break; and the PDF writing at the end, when the page count
//! for the footers is known.
//!
//! Coordinates are PDF points from the bottom-left corner. Positions are geometry only: every
//! amount reaches the page as the text of its `Decimal`.

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::PdfError;
use super::font::{Font, encode, units, width};

pub(super) const PAGE_WIDTH: f32 = 595.28;
pub(super) const PAGE_HEIGHT: f32 = 841.89;
pub(super) const LEFT: f32 = 42.0;
pub(super) const RIGHT: f32 = PAGE_WIDTH - 42.0;
pub(super) const TOP: f32 = PAGE_HEIGHT - 44.0;
/// Content ends above this line; the footer lives below it.
pub(super) const BOTTOM: f32 = 58.0;

/// How a piece of text looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Style {
    pub font: Font,
    pub size: f32,
    /// 0 is black, 1 white.
    pub gray: f32,
}

impl Style {
    pub const fn new(font: Font, size: f32) -> Self {
        Style { font, size, gray: 0.0 }
    }

    pub const fn gray(self, gray: f32) -> Self {
        Style { gray, ..self }
    }

    /// Distance between two baselines.
    pub fn leading(self) -> f32 {
        self.size * 1.28
    }

    pub fn width(self, text: &[u8]) -> f32 {
        width(self.font, text, self.size)
    }

    /// The advance of `text` in thousandths of the font size.
    pub fn units(self, text: &[u8]) -> u32 {
        units(self.font, text)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Text { x: f32, y: f32, style: Style, text: Vec<u8> },
    Rule { x1: f32, x2: f32, y: f32, width: f32, gray: f32 },
    Shade { x: f32, y: f32, w: f32, h: f32, gray: f32 },
}

/// One line of a cell or paragraph: encoded text and its style.
pub(super) type Line = (Style, Vec<u8>);

/// Horizontal alignment in a table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Right,
}

/// A table column: header text, width and alignment.
#[derive(Debug, Clone, Copy)]
pub(super) struct Column {
    pub title: &'static str,
    pub width: f32,
    pub align: Align,
}

const CELL_PAD: f32 = 3.0;

/// The pages being laid out and the cursor (`y`, the top of the next block).
#[derive(Debug)]
pub(super) struct Layout {
    pages: Vec<Vec<Op>>,
    pub y: f32,
}

impl Layout {
    pub fn new() -> Self {
        Layout { pages: vec![Vec::new()], y: TOP }
    }

    #[cfg(test)]
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    pub fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Starts a new page unless `height` fits above the bottom margin (or the page is still
    /// empty). Returns whether a page was started.
    pub fn ensure(&mut self, height: f32) -> bool {
        if self.y - height < BOTTOM && self.y < TOP {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// Moves the cursor down.
    pub fn skip(&mut self, height: f32) {
        self.y -= height;
    }

    /// Text with its baseline at `y`, starting at `x`.
    pub fn text(&mut self, x: f32, y: f32, style: Style, text: &[u8]) {
        if !text.is_empty() {
            self.ops().push(Op::Text { x, y, style, text: text.to_vec() });
        }
    }

    /// Text with its baseline at `y`, ending at `right`.
    pub fn text_right(&mut self, right: f32, y: f32, style: Style, text: &[u8]) {
        let x = right - style.width(text);
        self.text(x, y, style, text);
    }

    pub fn rule(&mut self, x1: f32, x2: f32, y: f32, width: f32, gray: f32) {
        self.ops().push(Op::Rule { x1, x2, y, width, gray });
    }

    pub fn shade(&mut self, x: f32, y: f32, w: f32, h: f32, gray: f32) {
        self.ops().push(Op::Shade { x, y, w, h, gray });
    }

    /// Writes `lines` from the cursor down at `x`, breaking pages between lines.
    pub fn paragraph(&mut self, x: f32, lines: &[Line]) {
        for (style, text) in lines {
            self.ensure(style.leading());
            let baseline = self.y - style.size;
            self.text(x, baseline, *style, text);
            self.y -= style.leading();
        }
    }

    /// A section heading, kept on the same page as `keep` points of what follows.
    pub fn heading(&mut self, title: &str, keep: f32) {
        let style = Style::new(Font::Bold, 10.5);
        self.ensure(style.leading() + 6.0 + keep);
        self.y -= 6.0;
        let baseline = self.y - style.size;
        self.text(LEFT, baseline, style, &encode(title));
        self.y -= style.leading() + 2.0;
    }

    /// A table from the cursor down. Each row is one cell per column, each cell a list of lines.
    /// A row never splits; after a page break the header is repeated.
    pub fn table(&mut self, columns: &[Column], rows: &[Vec<Vec<Line>>]) {
        let header_style = Style::new(Font::Bold, 7.5);
        let header_height = header_style.leading() + 2.0 * CELL_PAD;
        let first_row = rows.first().map_or(0.0, |r| row_height(r));
        self.ensure(header_height + first_row);
        self.table_header(columns, header_style, header_height);
        for row in rows {
            let height = row_height(row);
            if self.ensure(height) {
                self.table_header(columns, header_style, header_height);
            }
            let mut x = LEFT;
            for (column, cell) in columns.iter().zip(row) {
                let mut y = self.y - CELL_PAD;
                for (style, text) in cell {
                    let baseline = y - style.size;
                    match column.align {
                        Align::Left => self.text(x + CELL_PAD, baseline, *style, text),
                        Align::Right => self.text_right(x + column.width - CELL_PAD, baseline, *style, text),
                    }
                    y -= style.leading();
                }
                x += column.width;
            }
            self.y -= height;
            let right = LEFT + columns.iter().map(|c| c.width).sum::<f32>();
            self.rule(LEFT, right, self.y, 0.3, 0.75);
        }
    }

    fn table_header(&mut self, columns: &[Column], style: Style, height: f32) {
        let right = LEFT + columns.iter().map(|c| c.width).sum::<f32>();
        self.shade(LEFT, self.y - height, right - LEFT, height, 0.9);
        let baseline = self.y - CELL_PAD - style.size;
        let mut x = LEFT;
        for column in columns {
            let title = encode(column.title);
            match column.align {
                Align::Left => self.text(x + CELL_PAD, baseline, style, &title),
                Align::Right => self.text_right(x + column.width - CELL_PAD, baseline, style, &title),
            }
            x += column.width;
        }
        self.y -= height;
    }

    /// Writes the PDF: one page per laid-out page, `footer(page, count)` giving each page's
    /// left and right footer text, every content stream deflated.
    pub fn finish(
        self,
        title: &str,
        footer: impl Fn(usize, usize) -> (Vec<u8>, Vec<u8>),
    ) -> Result<Vec<u8>, PdfError> {
        let count = self.pages.len();
        let catalog_id = Ref::new(1);
        let tree_id = Ref::new(2);
        let regular_id = Ref::new(3);
        let bold_id = Ref::new(4);
        let info_id = Ref::new(5);
        let first_page = 6;
        let id =
            |n: usize| i32::try_from(n).map(Ref::new).map_err(|_| PdfError::TooManyPages { pages: count });
        let page_ids = (0..count).map(|i| id(first_page + 2 * i)).collect::<Result<Vec<_>, _>>()?;

        let mut pdf = Pdf::new();
        pdf.catalog(catalog_id).pages(tree_id);
        pdf.pages(tree_id).kids(page_ids.iter().copied()).count(i32::try_from(count).unwrap_or(i32::MAX));
        for (font, font_id) in [(Font::Regular, regular_id), (Font::Bold, bold_id)] {
            pdf.type1_font(font_id)
                .base_font(Name(font.base_font()))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        pdf.document_info(info_id).title(TextStr(title)).producer(TextStr("ledgerpost"));

        let footer_style = Style::new(Font::Regular, 7.0).gray(0.35);
        for (index, (ops, page_id)) in self.pages.into_iter().zip(&page_ids).enumerate() {
            let content_id = id(first_page + 2 * index + 1)?;
            let mut content = Content::new();
            for op in &ops {
                write_op(&mut content, op);
            }
            let (left, right) = footer(index + 1, count);
            content.set_stroke_gray(0.6).set_line_width(0.4);
            content.move_to(LEFT, BOTTOM - 14.0).line_to(RIGHT, BOTTOM - 14.0).stroke();
            write_op(&mut content, &Op::Text { x: LEFT, y: BOTTOM - 26.0, style: footer_style, text: left });
            let x = RIGHT - footer_style.width(&right);
            write_op(&mut content, &Op::Text { x, y: BOTTOM - 26.0, style: footer_style, text: right });
            let compressed = deflate(&content.finish())?;

            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT)).parent(tree_id).contents(content_id);
            page.resources()
                .fonts()
                .pair(Name(Font::Regular.resource()), regular_id)
                .pair(Name(Font::Bold.resource()), bold_id);
            page.finish();
            pdf.stream(content_id, &compressed).filter(Filter::FlateDecode);
        }
        Ok(pdf.finish())
    }
}

fn row_height(row: &[Vec<Line>]) -> f32 {
    let tallest =
        row.iter().map(|cell| cell.iter().map(|(s, _)| s.leading()).sum::<f32>()).fold(0.0, f32::max);
    tallest + 2.0 * CELL_PAD
}

fn write_op(content: &mut Content, op: &Op) {
    match op {
        Op::Text { x, y, style, text } => {
            content.set_fill_gray(style.gray);
            content.begin_text();
            content.set_font(Name(style.font.resource()), style.size);
            content.next_line(*x, *y);
            content.show(Str(text));
            content.end_text();
        }
        Op::Rule { x1, x2, y, width, gray } => {
            content.set_stroke_gray(*gray).set_line_width(*width);
            content.move_to(*x1, *y).line_to(*x2, *y).stroke();
        }
        Op::Shade { x, y, w, h, gray } => {
            content.set_fill_gray(*gray);
            content.rect(*x, *y, *w, *h).fill_nonzero();
        }
    }
}

thread_local! {
    /// One compressor per thread, reset for each stream: setting one up (allocating its window
    /// and hash tables) cost as much as compressing a page. The fastest level: page content is
    /// repetitive operator text that it still shrinks well, at a fraction of the default's time
    /// (rendering is most of what send-batch does per document).
    static COMPRESSOR: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::fast(), true));
}

/// `data` as a zlib stream (what `FlateDecode` reads).
fn deflate(data: &[u8]) -> Result<Vec<u8>, PdfError> {
    COMPRESSOR.with(|compressor| {
        let mut compressor = compressor.borrow_mut();
        compressor.reset();
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(compressor.total_in()).unwrap_or(data.len()).min(data.len());
            let status = compressor
                .compress_vec(&data[consumed..], &mut out, flate2::FlushCompress::Finish)
                .map_err(|e| PdfError::Compress(std::io::Error::other(e)))?;
            match status {
                flate2::Status::StreamEnd => return Ok(out),
                // The output is full: make room and go on.
                flate2::Status::Ok | flate2::Status::BufError => out.reserve(out.capacity().max(1024)),
            }
        }
    })
}

/// No line of the rendition holds more glyphs than this (the narrowest glyph is 0.19 em wide, the
/// widest text column 511 points, the smallest size 6.8 points).
const MAX_GLYPHS_PER_LINE: usize = 512;

/// Breaks encoded text into lines no wider than `max` points: at spaces where possible, inside a
/// word when the word alone is too wide. At most `max_lines` lines; a cut text ends with "...".
/// The work is bounded by what can be shown, however long the text.
pub(super) fn wrap(text: &[u8], style: Style, max: f32, max_lines: usize) -> Vec<Vec<u8>> {
    let max_lines = max_lines.max(1);
    let text = &text[..text.len().min((max_lines + 1).saturating_mul(MAX_GLYPHS_PER_LINE))];
    let fits = |units: u32| units as f32 * style.size / 1000.0 <= max;
    let space = style.units(b" ");
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut units: u32 = 0;
    for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        if lines.len() > max_lines {
            break;
        }
        let word_units = style.units(word);
        let joined = if current.is_empty() { word_units } else { units + space + word_units };
        if fits(joined) {
            if !current.is_empty() {
                current.push(b' ');
            }
            current.extend_from_slice(word);
            units = joined;
            continue;
        }
        if !current.is_empty() {
            lines.push(std::mem::take(&mut current));
        }
        units = 0;
        // A word wider than the line is cut where it overflows.
        for &b in word {
            let glyph = style.units(&[b]);
            if !current.is_empty() && !fits(units + glyph) {
                lines.push(std::mem::take(&mut current));
                units = 0;
            }
            current.push(b);
            units += glyph;
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            while !last.is_empty() && !fits(style.units(last) + style.units(b"...")) {
                last.pop();
            }
            last.extend_from_slice(b"...");
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_respects_the_width() {
        let style = Style::new(Font::Regular, 10.0);
        let text = encode("The quick brown fox jumps over the lazy dog again and again");
        let lines = wrap(&text, style, 100.0, 10);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| style.width(l) <= 100.0));
        assert_eq!(lines.join(&b' '), text);

        let long = encode(&"W".repeat(50));
        let lines = wrap(&long, style, 60.0, 20);
        assert!(lines.iter().all(|l| style.width(l) <= 60.0));
        assert_eq!(lines.concat(), long);

        let cut = wrap(&text, style, 100.0, 2);
        assert_eq!(cut.len(), 2);
        assert!(cut[1].ends_with(b"..."));
        assert!(style.width(&cut[1]) <= 100.0);
        assert!(wrap(b"", style, 100.0, 3).is_empty());

        // A huge text costs no more than what fits.
        let huge = vec![b'i'; 20_000_000];
        let lines = wrap(&huge, style, 500.0, 3);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].ends_with(b"..."));
    }

    #[test]
    fn a_full_page_breaks() {
        let mut layout = Layout::new();
        let style = Style::new(Font::Regular, 10.0);
        let lines: Vec<Line> = (0..200).map(|i| (style, format!("line {i}").into_bytes())).collect();
        layout.paragraph(LEFT, &lines);
        assert!(layout.page_count() >= 3);
        let pdf = layout.finish("t", |p, n| (b"left".to_vec(), format!("{p}/{n}").into_bytes())).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
