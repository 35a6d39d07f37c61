//! The terminal screen as command recognition needs it: the characters in each cell, where the
//! cursor is, which rows wrap, the alternate screen and the modes a line editor sets. Colours and
//! attributes are not kept. Each cell remembers when it was last written (a stamp the recognizer
//! advances), so text the device left on a row before a line was typed can be told from what the
//! line editor drew since.
//!
//! It follows xterm for what shells, line editors and full-screen programs print: printable text
//! with wide characters and pending wrap, C0 controls, cursor movement, erasing, inserting and
//! deleting characters and lines, scroll regions, saved cursors, the alternate screen (47, 1047,
//! 1049), insert mode, auto-wrap and bracketed paste (2004). Strings
//! (OSC, DCS, APC, PM, SOS) are skipped; shell-integration marks are read apart, from the bytes.

use unicode_width::UnicodeWidthChar;

/// When a cell was written: the recognizer's count of keystrokes at the time.
pub type Stamp = u32;

/// A cell in eight bytes: a screen of them is set up for every session, and written for every
/// character drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cell {
    ch: char,
    /// The stamp, with the width in the top two bits: 1 for most characters, 2 for the first
    /// cell of a wide one, 0 for the cell a wide character also covers.
    meta: u32,
}

const STAMP_BITS: u32 = 30;
const STAMP_MASK: u32 = (1 << STAMP_BITS) - 1;

/// What an erased or never written cell holds, told apart from a space that was written.
const EMPTY: char = '\0';

impl Cell {
    const fn new(ch: char, width: u8, stamp: Stamp) -> Cell {
        let stamp = if stamp > STAMP_MASK {
            STAMP_MASK
        } else {
            stamp
        };
        Cell {
            ch,
            meta: stamp | ((width as u32) << STAMP_BITS),
        }
    }

    const fn blank(stamp: Stamp) -> Cell {
        Cell::new(EMPTY, 1, stamp)
    }

    const fn width(self) -> u8 {
        (self.meta >> STAMP_BITS) as u8
    }

    const fn stamp(self) -> Stamp {
        self.meta & STAMP_MASK
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cursor {
    row: u16,
    col: u16,
    /// A character was written in the last column: the next one wraps first (xterm's
    /// "pending wrap").
    pending_wrap: bool,
}

#[derive(Debug, Clone)]
struct Row {
    cells: Vec<Cell>,
    /// The row continues on the next one: the text ran past its last column.
    wrapped: bool,
}

impl Row {
    fn blank(cols: u16, stamp: Stamp) -> Row {
        Row {
            cells: vec![Cell::blank(stamp); usize::from(cols)],
            wrapped: false,
        }
    }

    fn clear(&mut self, stamp: Stamp) {
        self.cells.fill(Cell::blank(stamp));
        self.wrapped = false;
    }
}

/// Rows apart, so that scrolling moves a few pointers, not the screen's cells.
#[derive(Debug, Clone)]
struct Grid {
    rows: Vec<Row>,
    saved: Option<Cursor>,
}

impl Grid {
    fn new(rows: u16, cols: u16, stamp: Stamp) -> Grid {
        Grid {
            rows: vec![Row::blank(cols, stamp); usize::from(rows)],
            saved: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    Escape,
    /// `ESC` then intermediate bytes (`ESC ( B`, `ESC # 8`): the final byte ends it.
    EscapeIntermediate,
    Csi,
    /// Inside a string (OSC, DCS, APC, PM, SOS), skipped to its end.
    Text,
    /// An `ESC` inside a string: `\` ends it.
    TextEscape,
}

const MAX_PARAMS: usize = 16;

#[derive(Debug, Clone, Default)]
struct Csi {
    params: [u16; MAX_PARAMS],
    count: usize,
    /// A digit was seen for the parameter being read.
    started: bool,
    private: Option<char>,
    intermediate: bool,
}

impl Csi {
    fn param(&self, index: usize, default: u16) -> u16 {
        match self.params.get(index) {
            Some(&value) if index < self.count && value != 0 => value,
            _ => default,
        }
    }

    fn next_param(&mut self) {
        if self.count < MAX_PARAMS {
            self.count += 1;
        }
        self.started = false;
    }
}

#[derive(Debug, Clone)]
pub struct Screen {
    rows: u16,
    cols: u16,
    primary: Grid,
    alternate: Grid,
    on_alternate: bool,
    cursor: Cursor,
    scroll_top: u16,
    /// The last row of the scroll region, inclusive.
    scroll_bottom: u16,
    autowrap: bool,
    insert: bool,
    bracketed_paste: bool,
    state: State,
    csi: Csi,
    stamp: Stamp,
}

impl Screen {
    pub fn new(rows: u16, cols: u16) -> Screen {
        let (rows, cols) = (rows.max(1), cols.max(1));
        Screen {
            rows,
            cols,
            primary: Grid::new(rows, cols, 0),
            // Made when a program switches to it: most sessions never do.
            alternate: Grid {
                rows: Vec::new(),
                saved: None,
            },
            on_alternate: false,
            cursor: Cursor::default(),
            scroll_top: 0,
            scroll_bottom: rows - 1,
            autowrap: true,
            insert: false,
            bracketed_paste: false,
            state: State::Ground,
            csi: Csi::default(),
            stamp: 0,
        }
    }

    pub fn size(&self) -> (u16, u16) {
        (self.rows, self.cols)
    }

    /// The cursor's row and column; the column is one past the last when a character was just
    /// written there and the next one wraps.
    pub fn cursor(&self) -> (u16, u16) {
        let col = if self.cursor.pending_wrap {
            self.cols
        } else {
            self.cursor.col
        };
        (self.cursor.row, col)
    }

    pub fn alternate_screen(&self) -> bool {
        self.on_alternate
    }

    pub fn bracketed_paste(&self) -> bool {
        self.bracketed_paste
    }

    /// Cells written from now on carry `stamp`.
    pub fn set_stamp(&mut self, stamp: Stamp) {
        self.stamp = stamp;
    }

    pub fn row_wrapped(&self, row: u16) -> bool {
        self.grid()
            .rows
            .get(usize::from(row))
            .is_some_and(|row| row.wrapped)
    }

    /// The text of `row` from column `from` to the end, each character once, cells written
    /// before `since` read as blanks. Trailing blanks are dropped, except spaces written on a row
    /// that wraps: those are part of the line that goes on below. The cell a wide character
    /// could not use at the end of a row was never written, and is no part of the text.
    pub fn row_text(&self, row: u16, from: u16, since: Stamp) -> String {
        if row >= self.rows {
            return String::new();
        }
        let cells = self.row_cells(row).get(usize::from(from)..).unwrap_or(&[]);
        let read = |cell: &Cell| {
            let stale = cell.stamp() < since || cell.ch == EMPTY;
            (if stale { ' ' } else { cell.ch }, !stale)
        };
        let wrapped = self.row_wrapped(row);
        let kept = cells
            .iter()
            .rposition(|cell| {
                let (ch, written) = read(cell);
                cell.width() != 0 && (ch != ' ' || (wrapped && written))
            })
            .map_or(0, |last| last + 1);
        cells[..kept]
            .iter()
            .filter(|cell| cell.width() != 0)
            .map(|cell| read(cell).0)
            .collect()
    }

    /// The text of `row` before column `to`, blanks as spaces, trailing blanks kept out.
    pub fn text_before(&self, row: u16, to: u16) -> String {
        if row >= self.rows {
            return String::new();
        }
        let mut text: String = self
            .row_cells(row)
            .iter()
            .take(usize::from(to))
            .filter(|cell| cell.width() != 0)
            .map(|cell| if cell.ch == EMPTY { ' ' } else { cell.ch })
            .collect();
        let kept = text.trim_end().len();
        text.truncate(kept);
        text
    }

    fn row_cells(&self, row: u16) -> &[Cell] {
        self.grid()
            .rows
            .get(usize::from(row))
            .map_or(&[], |row| row.cells.as_slice())
    }

    fn row_mut(&mut self, row: u16) -> &mut Row {
        let index = usize::from(row.min(self.rows - 1));
        &mut self.grid_mut().rows[index]
    }

    fn grid(&self) -> &Grid {
        if self.on_alternate {
            &self.alternate
        } else {
            &self.primary
        }
    }

    fn grid_mut(&mut self) -> &mut Grid {
        if self.on_alternate {
            &mut self.alternate
        } else {
            &mut self.primary
        }
    }

    pub fn resize(&mut self, rows: u16, cols: u16) {
        let (rows, cols) = (rows.max(1), cols.max(1));
        if (rows, cols) == (self.rows, self.cols) {
            return;
        }
        for on_alternate in [false, true] {
            let old = if on_alternate {
                &self.alternate
            } else {
                &self.primary
            };
            if old.rows.is_empty() {
                continue;
            }
            let mut grid = Grid::new(rows, cols, self.stamp);
            for (new, old) in grid.rows.iter_mut().zip(&old.rows) {
                let kept = usize::from(cols.min(self.cols));
                new.cells[..kept].copy_from_slice(&old.cells[..kept]);
                new.wrapped = cols == self.cols && old.wrapped;
            }
            grid.saved = old.saved;
            if on_alternate {
                self.alternate = grid;
            } else {
                self.primary = grid;
            }
        }
        self.rows = rows;
        self.cols = cols;
        self.scroll_top = 0;
        self.scroll_bottom = rows - 1;
        self.cursor.row = self.cursor.row.min(rows - 1);
        self.cursor.col = self.cursor.col.min(cols - 1);
        self.cursor.pending_wrap = false;
    }

    pub fn process(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            let byte = bytes[index];
            match self.state {
                // The common case, runs of printable ASCII, written without the state machine.
                State::Ground if (0x20..0x7f).contains(&byte) => {
                    let run = bytes[index..]
                        .iter()
                        .position(|b| !(0x20..0x7f).contains(b))
                        .map_or(bytes.len(), |end| index + end);
                    self.print_ascii(&bytes[index..run]);
                    index = run;
                    continue;
                }
                // A control sequence, read whole as bytes when the chunk holds all of it.
                State::Ground if byte == 0x1b && bytes.get(index + 1) == Some(&b'[') => {
                    self.start_csi();
                    index += 2 + self.read_csi(&bytes[index + 2..]);
                    continue;
                }
                State::Csi if byte.is_ascii_digit() => {
                    self.csi_digit(byte);
                    index += 1;
                    continue;
                }
                State::Csi if byte < 0x80 => {
                    self.csi_char(char::from(byte));
                    index += 1;
                    continue;
                }
                // A string's body is skipped to whatever may end it (BEL, ESC, CAN, SUB, or
                // the two bytes of ST as a C1 character).
                State::Text => {
                    let end = bytes[index..]
                        .iter()
                        .position(|&b| matches!(b, 0x07 | 0x1b | 0x18 | 0x1a | 0xc2))
                        .map_or(bytes.len(), |end| index + end);
                    if end > index {
                        index = end;
                        continue;
                    }
                }
                _ => {}
            }
            if byte < 0x80 {
                self.step(char::from(byte));
                index += 1;
            } else {
                let Some(c) = text.get(index..).and_then(|rest| rest.chars().next()) else {
                    break;
                };
                self.step(c);
                index += c.len_utf8();
            }
        }
    }

    fn step(&mut self, c: char) {
        match self.state {
            State::Ground => self.ground(c),
            State::Escape => self.escape(c),
            State::EscapeIntermediate => {
                if is_control(c) {
                    self.control(c);
                } else if !('\u{20}'..='\u{2f}').contains(&c) {
                    self.state = State::Ground;
                }
            }
            State::Csi => self.csi_char(c),
            State::Text => match c {
                '\x07' | '\u{9c}' | '\x18' | '\x1a' => self.state = State::Ground,
                '\x1b' => self.state = State::TextEscape,
                _ => {}
            },
            State::TextEscape => {
                self.state = if c == '\x1b' {
                    State::TextEscape
                } else if c == '\\' {
                    State::Ground
                } else {
                    // ESC with anything else ends the string and starts a new sequence.
                    self.state = State::Escape;
                    self.escape(c);
                    return;
                }
            }
        }
    }

    fn ground(&mut self, c: char) {
        if is_control(c) {
            self.control(c);
        } else if c == '\u{9b}' {
            self.start_csi();
        } else if matches!(c, '\u{90}' | '\u{9d}' | '\u{98}' | '\u{9e}' | '\u{9f}') {
            self.state = State::Text;
        } else if ('\u{80}'..'\u{a0}').contains(&c) {
            // Other C1 controls do nothing here.
        } else {
            self.print(c);
        }
    }

    fn control(&mut self, c: char) {
        match c {
            '\x08' => {
                self.cursor.col = self.cursor.col.saturating_sub(1);
                self.cursor.pending_wrap = false;
            }
            '\t' => self.tab_forward(1),
            '\n' | '\x0b' | '\x0c' => self.line_feed(),
            '\r' => {
                self.cursor.col = 0;
                self.cursor.pending_wrap = false;
            }
            '\x18' | '\x1a' => self.state = State::Ground,
            '\x1b' => self.state = State::Escape,
            _ => {}
        }
    }

    fn escape(&mut self, c: char) {
        self.state = State::Ground;
        match c {
            '[' => self.start_csi(),
            ']' | 'P' | 'X' | '^' | '_' => self.state = State::Text,
            '7' => self.save_cursor(),
            '8' => self.restore_cursor(),
            'D' => self.line_feed(),
            'E' => {
                self.cursor.col = 0;
                self.line_feed();
            }
            'M' => self.reverse_index(),
            'c' => self.reset(),
            '\u{20}'..='\u{2f}' => self.state = State::EscapeIntermediate,
            _ if is_control(c) => self.control(c),
            _ => {}
        }
    }

    fn start_csi(&mut self) {
        self.csi = Csi::default();
        self.state = State::Csi;
    }

    fn csi_char(&mut self, c: char) {
        match c {
            '0'..='9' => self.csi_digit(c as u8),
            ';' | ':' => self.csi.next_param(),
            '<' | '=' | '>' | '?' => self.csi.private = Some(c),
            '\u{20}'..='\u{2f}' => self.csi.intermediate = true,
            '\u{40}'..='\u{7e}' => {
                if self.csi.started || self.csi.count > 0 {
                    self.csi.next_param();
                }
                self.state = State::Ground;
                self.dispatch(c);
            }
            '\x1b' => self.state = State::Escape,
            _ if is_control(c) => self.control(c),
            _ => self.state = State::Ground,
        }
    }

    /// Reads a control sequence's parameters and final byte from `bytes`, as far as they are
    /// plain ASCII; answers how many it took. What it leaves, the state machine goes on with.
    fn read_csi(&mut self, bytes: &[u8]) -> usize {
        for (taken, &byte) in bytes.iter().enumerate() {
            match byte {
                b'0'..=b'9' => self.csi_digit(byte),
                b';' | b':' => self.csi.next_param(),
                b'<' | b'=' | b'>' | b'?' => self.csi.private = Some(char::from(byte)),
                0x20..=0x2f => self.csi.intermediate = true,
                0x40..=0x7e => {
                    self.csi_char(char::from(byte));
                    return taken + 1;
                }
                _ => return taken,
            }
        }
        bytes.len()
    }

    fn csi_digit(&mut self, byte: u8) {
        let index = self.csi.count.min(MAX_PARAMS - 1);
        let value = &mut self.csi.params[index];
        *value = value
            .saturating_mul(10)
            .saturating_add(u16::from(byte - b'0'));
        self.csi.started = true;
    }

    fn dispatch(&mut self, final_char: char) {
        let csi = std::mem::take(&mut self.csi);
        if csi.intermediate {
            return;
        }
        match csi.private {
            Some('?') => return self.private_mode(&csi, final_char == 'h', final_char),
            Some(_) => return,
            None => {}
        }
        let n = csi.param(0, 1);
        let rows = self.rows;
        match final_char {
            '@' => self.insert_blanks(n),
            'A' => self.move_to(self.row_up(n), self.cursor.col),
            'B' | 'e' => self.move_to(self.row_down(n), self.cursor.col),
            'C' | 'a' => self.move_to(self.cursor.row, self.cursor.col.saturating_add(n)),
            'D' => self.move_to(self.cursor.row, self.cursor.col.saturating_sub(n)),
            'E' => self.move_to(self.row_down(n), 0),
            'F' => self.move_to(self.row_up(n), 0),
            'G' | '`' => self.move_to(self.cursor.row, n - 1),
            'H' | 'f' => self.move_to(n - 1, csi.param(1, 1) - 1),
            'I' => self.tab_forward(n),
            'J' => self.erase_display(csi.param(0, 0)),
            'K' => self.erase_line(csi.param(0, 0)),
            'L' => self.insert_lines(n),
            'M' => self.delete_lines(n),
            'P' => self.delete_chars(n),
            'S' => self.scroll_up(n),
            'T' => self.scroll_down(n),
            'X' => self.erase_chars(n),
            'Z' => self.tab_back(n),
            'd' => self.move_to(n - 1, self.cursor.col),
            'h' | 'l' if csi.param(0, 0) == 4 => self.insert = final_char == 'h',
            'r' => {
                let top = csi.param(0, 1) - 1;
                let bottom = csi.param(1, rows).min(rows) - 1;
                if top < bottom {
                    self.scroll_top = top;
                    self.scroll_bottom = bottom;
                    self.move_to(0, 0);
                }
            }
            's' => self.save_cursor(),
            'u' => self.restore_cursor(),
            _ => {}
        }
    }

    fn private_mode(&mut self, csi: &Csi, set: bool, final_char: char) {
        if final_char != 'h' && final_char != 'l' {
            return;
        }
        for index in 0..csi.count.max(1) {
            match csi.param(index, 0) {
                7 => self.autowrap = set,
                47 | 1047 => self.switch_screen(set, false),
                1049 => self.switch_screen(set, true),
                2004 => self.bracketed_paste = set,
                _ => {}
            }
        }
    }

    fn switch_screen(&mut self, alternate: bool, save_cursor: bool) {
        if alternate == self.on_alternate {
            return;
        }
        if alternate {
            if save_cursor {
                self.primary.saved = Some(self.cursor);
            }
            self.on_alternate = true;
            self.alternate = Grid::new(self.rows, self.cols, self.stamp);
        } else {
            self.on_alternate = false;
            if save_cursor && let Some(saved) = self.primary.saved {
                self.cursor = saved;
            }
        }
        self.cursor.row = self.cursor.row.min(self.rows - 1);
        self.cursor.col = self.cursor.col.min(self.cols - 1);
    }

    fn reset(&mut self) {
        let stamp = self.stamp;
        *self = Screen::new(self.rows, self.cols);
        self.stamp = stamp;
        self.primary = Grid::new(self.rows, self.cols, stamp);
    }

    fn save_cursor(&mut self) {
        let cursor = self.cursor;
        self.grid_mut().saved = Some(cursor);
    }

    /// Back to the saved cursor, or home when none was saved (as xterm does).
    fn restore_cursor(&mut self) {
        let saved = self.grid().saved.unwrap_or_default();
        self.cursor = saved;
        self.cursor.row = self.cursor.row.min(self.rows - 1);
        self.cursor.col = self.cursor.col.min(self.cols - 1);
    }

    /// `n` rows up, stopping at the top margin when the cursor is inside the scroll region.
    fn row_up(&self, n: u16) -> u16 {
        let row = self.cursor.row.saturating_sub(n);
        if self.cursor.row >= self.scroll_top {
            row.max(self.scroll_top)
        } else {
            row
        }
    }

    /// `n` rows down, stopping at the bottom margin when the cursor is inside the region.
    fn row_down(&self, n: u16) -> u16 {
        let row = self.cursor.row.saturating_add(n);
        if self.cursor.row <= self.scroll_bottom {
            row.min(self.scroll_bottom)
        } else {
            row
        }
    }

    fn move_to(&mut self, row: u16, col: u16) {
        self.cursor = Cursor {
            row: row.min(self.rows - 1),
            col: col.min(self.cols - 1),
            pending_wrap: false,
        };
    }

    fn tab_forward(&mut self, count: u16) {
        let mut col = self.cursor.col;
        for _ in 0..count {
            col = (col / 8 + 1).saturating_mul(8);
        }
        self.cursor.col = col.min(self.cols - 1);
        self.cursor.pending_wrap = false;
    }

    fn tab_back(&mut self, count: u16) {
        let mut col = self.cursor.col;
        for _ in 0..count {
            col = col.saturating_sub(1) / 8 * 8;
        }
        self.cursor.col = col;
        self.cursor.pending_wrap = false;
    }

    fn print(&mut self, c: char) {
        match c.width() {
            Some(1) | None => self.print_narrow(c),
            Some(0) => {}
            Some(_) => self.print_wide(c),
        }
    }

    fn wrap_if_pending(&mut self) {
        if self.cursor.pending_wrap && self.autowrap {
            let row = self.cursor.row;
            self.row_mut(row).wrapped = true;
            self.cursor.col = 0;
            self.cursor.pending_wrap = false;
            self.line_feed();
        }
    }

    /// Writes printable ASCII a row's worth at a time.
    fn print_ascii(&mut self, mut bytes: &[u8]) {
        if self.insert {
            bytes
                .iter()
                .for_each(|&byte| self.print_narrow(char::from(byte)));
            return;
        }
        while !bytes.is_empty() {
            self.wrap_if_pending();
            let (row, col) = (self.cursor.row, usize::from(self.cursor.col));
            let count = (usize::from(self.cols) - col).min(bytes.len());
            let stamp = self.stamp;
            let cells = &mut self.row_mut(row).cells;
            // A wide character cut in two at either end leaves a blank.
            if col > 0 && cells[col].width() == 0 {
                cells[col - 1] = Cell::blank(stamp);
            }
            if cells[col + count - 1].width() == 2
                && let Some(cell) = cells.get_mut(col + count)
            {
                *cell = Cell::blank(stamp);
            }
            for (cell, &byte) in cells[col..col + count].iter_mut().zip(&bytes[..count]) {
                *cell = Cell::new(char::from(byte), 1, stamp);
            }
            bytes = &bytes[count..];
            self.advance(u16::try_from(count).unwrap_or(u16::MAX));
        }
    }

    fn print_narrow(&mut self, c: char) {
        self.wrap_if_pending();
        if self.insert {
            self.insert_blanks(1);
        }
        let stamp = self.stamp;
        let (row, col) = (self.cursor.row, self.cursor.col);
        self.put(row, col, Cell::new(c, 1, stamp));
        self.advance(1);
    }

    fn print_wide(&mut self, c: char) {
        self.wrap_if_pending();
        if self.cols < 2 {
            return;
        }
        if self.cursor.col + 1 >= self.cols {
            // No room for both halves: the last cell stays blank and the character wraps.
            let (row, col) = (self.cursor.row, self.cursor.col);
            self.put(row, col, Cell::blank(self.stamp));
            self.cursor.pending_wrap = true;
            self.wrap_if_pending();
        }
        if self.insert {
            self.insert_blanks(2);
        }
        let stamp = self.stamp;
        let (row, col) = (self.cursor.row, self.cursor.col);
        self.put(row, col, Cell::new(c, 2, stamp));
        self.put(row, col + 1, Cell::new(' ', 0, stamp));
        self.advance(2);
    }

    fn advance(&mut self, width: u16) {
        let next = self.cursor.col.saturating_add(width);
        if next >= self.cols {
            self.cursor.col = self.cols - 1;
            self.cursor.pending_wrap = true;
        } else {
            self.cursor.col = next;
        }
    }

    /// Writes a cell, blanking the other half of any wide character it splits.
    fn put(&mut self, row: u16, col: u16, cell: Cell) {
        let cols = usize::from(self.cols);
        let index = usize::from(col);
        let stamp = self.stamp;
        let cells = &mut self.row_mut(row).cells;
        let Some(old) = cells.get(index).copied() else {
            return;
        };
        if old.width() == 2 && cell.width() != 0 && usize::from(col) + 1 < cols {
            cells[index + 1] = Cell::blank(stamp);
        }
        if old.width() == 0 && col > 0 {
            cells[index - 1] = Cell::blank(stamp);
        }
        cells[index] = cell;
    }

    fn line_feed(&mut self) {
        self.cursor.pending_wrap = false;
        if self.cursor.row == self.scroll_bottom {
            self.scroll_up(1);
        } else if self.cursor.row + 1 < self.rows {
            self.cursor.row += 1;
        }
    }

    fn reverse_index(&mut self) {
        self.cursor.pending_wrap = false;
        if self.cursor.row == self.scroll_top {
            self.scroll_down(1);
        } else {
            self.cursor.row = self.cursor.row.saturating_sub(1);
        }
    }

    /// Moves the rows of the scroll region up by `n`, blank rows coming in at the bottom.
    fn scroll_up(&mut self, n: u16) {
        let (top, bottom) = (self.scroll_top, self.scroll_bottom);
        self.shift_rows(top, bottom, n, true);
    }

    fn scroll_down(&mut self, n: u16) {
        let (top, bottom) = (self.scroll_top, self.scroll_bottom);
        self.shift_rows(top, bottom, n, false);
    }

    fn insert_lines(&mut self, n: u16) {
        if (self.scroll_top..=self.scroll_bottom).contains(&self.cursor.row) {
            let (top, bottom) = (self.cursor.row, self.scroll_bottom);
            self.shift_rows(top, bottom, n, false);
            self.cursor.col = 0;
        }
    }

    fn delete_lines(&mut self, n: u16) {
        if (self.scroll_top..=self.scroll_bottom).contains(&self.cursor.row) {
            let (top, bottom) = (self.cursor.row, self.scroll_bottom);
            self.shift_rows(top, bottom, n, true);
            self.cursor.col = 0;
        }
    }

    /// Shifts rows `top..=bottom` by `n`, up or down, filling with blank rows.
    fn shift_rows(&mut self, top: u16, bottom: u16, n: u16, up: bool) {
        let (top, bottom) = (usize::from(top), usize::from(bottom));
        let height = bottom + 1 - top;
        let n = usize::from(n).min(height);
        let stamp = self.stamp;
        let rows = &mut self.grid_mut().rows[top..=bottom];
        let fresh = if up {
            rows.rotate_left(n);
            height - n..height
        } else {
            rows.rotate_right(n);
            0..n
        };
        for row in &mut rows[fresh] {
            row.clear(stamp);
        }
    }

    fn erase_display(&mut self, mode: u16) {
        let (row, col) = (usize::from(self.cursor.row), usize::from(self.cursor.col));
        let stamp = self.stamp;
        let rows = &mut self.grid_mut().rows;
        match mode {
            0 => {
                rows[row].cells[col..].fill(Cell::blank(stamp));
                rows[row].wrapped = false;
                rows[row + 1..].iter_mut().for_each(|r| r.clear(stamp));
            }
            1 => {
                rows[..row].iter_mut().for_each(|r| r.clear(stamp));
                rows[row].cells[..=col].fill(Cell::blank(stamp));
            }
            2 | 3 => {
                rows.iter_mut().for_each(|r| r.clear(stamp));
            }
            _ => {}
        }
    }

    fn erase_line(&mut self, mode: u16) {
        let (row, col) = (self.cursor.row, usize::from(self.cursor.col));
        let stamp = self.stamp;
        let row = self.row_mut(row);
        match mode {
            0 => {
                row.cells[col..].fill(Cell::blank(stamp));
                row.wrapped = false;
            }
            1 => row.cells[..=col].fill(Cell::blank(stamp)),
            2 => row.clear(stamp),
            _ => {}
        }
    }

    fn erase_chars(&mut self, n: u16) {
        let (row, col, cols) = (
            self.cursor.row,
            usize::from(self.cursor.col),
            usize::from(self.cols),
        );
        let end = (col + usize::from(n)).min(cols);
        let stamp = self.stamp;
        self.row_mut(row).cells[col..end].fill(Cell::blank(stamp));
    }

    fn insert_blanks(&mut self, n: u16) {
        self.shift_cells(n, true);
    }

    fn delete_chars(&mut self, n: u16) {
        self.shift_cells(n, false);
        self.cursor.pending_wrap = false;
    }

    /// Moves the cells from the cursor to the end of its row `n` places right (blanks come in
    /// at the cursor) or left (blanks come in at the end).
    fn shift_cells(&mut self, n: u16, right: bool) {
        let (row, col) = (self.cursor.row, usize::from(self.cursor.col));
        let n = usize::from(n).min(usize::from(self.cols) - col);
        let stamp = self.stamp;
        let cells = &mut self.row_mut(row).cells[col..];
        let fresh = if right {
            cells.rotate_right(n);
            0..n
        } else {
            cells.rotate_left(n);
            cells.len() - n..cells.len()
        };
        cells[fresh].fill(Cell::blank(stamp));
    }
}

fn is_control(c: char) -> bool {
    c < '\u{20}' || c == '\u{7f}'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(rows: u16, cols: u16, output: &str) -> Screen {
        let mut screen = Screen::new(rows, cols);
        screen.process(output);
        screen
    }

    #[test]
    fn text_wraps_at_the_last_column_and_the_row_says_so() {
        let s = screen(3, 5, "abcdefg");
        assert_eq!(s.row_text(0, 0, 0), "abcde");
        assert!(s.row_wrapped(0));
        assert_eq!(s.row_text(1, 0, 0), "fg");
        assert_eq!(s.cursor(), (1, 2));
    }

    #[test]
    fn a_wide_character_that_does_not_fit_wraps_whole_and_adds_no_space() {
        let s = screen(3, 5, "ab日本語");
        assert_eq!(s.row_text(0, 0, 0), "ab日");
        assert_eq!(s.row_text(1, 0, 0), "本語");
        assert!(s.row_wrapped(0));
    }

    #[test]
    fn cursor_moves_erases_and_edits() {
        let s = screen(3, 10, "hello\x1b[3D\x1b[Kxy\r\n\x1b[2;3Hz\x1b[1;1H\x1b[@Q");
        assert_eq!(s.row_text(0, 0, 0), "Qhexy");
        assert_eq!(s.row_text(1, 0, 0), "  z");
        let s = screen(2, 10, "abcdef\x1b[1;2H\x1b[2P");
        assert_eq!(s.row_text(0, 0, 0), "adef");
    }

    #[test]
    fn cells_written_before_a_stamp_read_as_blank() {
        let mut s = screen(2, 20, "PROMPT# ls -la /x\r$ ");
        s.set_stamp(1);
        s.process("ls");
        assert_eq!(s.row_text(0, 2, 0), "lsPT# ls -la /x");
        assert_eq!(s.row_text(0, 2, 1), "ls");
    }

    #[test]
    fn scrolling_moves_rows_and_their_wrap_flags() {
        let s = screen(2, 3, "abcd\r\nxy\r\nz");
        assert_eq!(s.row_text(0, 0, 0), "xy");
        assert_eq!(s.row_text(1, 0, 0), "z");
        assert!(!s.row_wrapped(0));
    }

    #[test]
    fn the_alternate_screen_comes_and_goes_with_the_cursor() {
        let mut s = screen(3, 10, "main\x1b[?1049h\x1b[Hfull");
        assert!(s.alternate_screen());
        assert_eq!(s.row_text(0, 0, 0), "full");
        s.process("\x1b[?1049l");
        assert!(!s.alternate_screen());
        assert_eq!(s.row_text(0, 0, 0), "main");
        assert_eq!(s.cursor(), (0, 4));
    }

    #[test]
    fn strings_and_modes_are_read_or_skipped() {
        let s = screen(
            2,
            20,
            "\x1b]0;title\x07\x1b]633;E;x\x1b\\a\x1bP1$r\x1b\\b\x1b[?2004h\x1b[?1h",
        );
        assert_eq!(s.row_text(0, 0, 0), "ab");
        assert!(s.bracketed_paste());
    }

    /// Output a shell or a full-screen program prints, in pieces. Reverse index is left out:
    /// above the scroll region vt100 scrolls the region where xterm only moves up.
    const PIECES: [&str; 32] = [
        "abc",
        "hello world",
        "0123456789",
        "\r",
        "\n",
        "\r\n",
        "\x08",
        "\t",
        "\x1b[K",
        "\x1b[1K",
        "\x1b[2K",
        "\x1b[J",
        "\x1b[1J",
        "\x1b[2J",
        "\x1b[3D",
        "\x1b[2C",
        "\x1b[A",
        "\x1b[B",
        "\x1b[5;3H",
        "\x1b[2@",
        "\x1b[2P",
        "\x1b[L\r",
        "\x1b[M\r",
        "\x1b[2;5r\x1b[H",
        "\x1b[r\x1b[H",
        "\x1b[S",
        "\x1b[T",
        "\x1b[3X",
        "\x1b7",
        "\x1b8",
        "\x1b[10G",
        "\x1b[4d",
    ];

    #[derive(Debug, Clone)]
    struct Output(Vec<&'static str>);

    impl quickcheck::Arbitrary for Output {
        fn arbitrary(g: &mut quickcheck::Gen) -> Self {
            let count = usize::arbitrary(g) % 40;
            Output(
                (0..count)
                    .map(|_| *g.choose(&PIECES).unwrap_or(&""))
                    .collect(),
            )
        }

        fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
            let pieces = self.0.clone();
            Box::new((0..pieces.len()).map(move |index| {
                let mut fewer = pieces.clone();
                fewer.remove(index);
                Output(fewer)
            }))
        }
    }

    /// Every row reads as vt100 (a terminal emulator in wide use) shows it, and the cursor is
    /// where it puts it.
    fn same_screen_as_vt100(output: Output) -> bool {
        let (rows, cols) = (6, 12);
        let mut ours = Screen::new(rows, cols);
        let size = |n| std::num::NonZeroU16::new(n).unwrap();
        let mut theirs = vt100::Parser::new(size(rows), size(cols), 0);
        for piece in &output.0 {
            // vt100 keeps a cursor that wrote the last column one past it, where xterm keeps
            // it on the last column: from there, moves and edits differ. Compare up to that.
            let pending = ours.cursor().1 == cols;
            if pending && !piece.starts_with(|c: char| c.is_ascii_graphic()) {
                break;
            }
            ours.process(piece);
            theirs.process(piece.as_bytes());
        }
        let screen = theirs.screen();
        // vt100 keeps written trailing spaces on every row, where reading a line keeps them
        // only on a row that wraps.
        let their_rows: Vec<String> = screen
            .rows(0, cols)
            .zip(0..)
            .map(|(text, row)| match ours.row_wrapped(row) {
                true => text,
                false => text.trim_end().to_owned(),
            })
            .collect();
        let our_rows: Vec<String> = (0..rows).map(|row| ours.row_text(row, 0, 0)).collect();
        let (row, col) = screen.cursor_position();
        let same = their_rows == our_rows && ours.cursor() == (row, col);
        if !same && std::env::var_os("SCREEN_DIFF").is_some() {
            eprintln!(
                "{output:?}\nvt100: {their_rows:?} {:?}\nours:  {our_rows:?} {:?}",
                (row, col),
                ours.cursor()
            );
        }
        same
    }

    #[test]
    fn the_screen_reads_as_vt100_shows_it() {
        quickcheck::QuickCheck::new()
            .tests(5_000)
            .quickcheck(same_screen_as_vt100 as fn(Output) -> bool);
    }
}
