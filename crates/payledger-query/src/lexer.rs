//! The tokenizer shared by `where` predicates and `sort` keys.
//!
//! The whole text is tokenized up front (it is at most a few kilobytes).
//! Positions are 0-based offsets in characters, not bytes, so they match what
//! a client sees in its own string. Keywords are not tokens of their own: a
//! bare word is a keyword only where the parser expects one, compared
//! case-insensitively, while a backtick-quoted name is never a keyword.

use crate::ast::CompareOp;
use crate::error::ParseError;
use crate::number::Number;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    /// A bare identifier `[A-Za-z_][A-Za-z0-9_]*`, possibly a keyword.
    Word(String),
    /// A backtick-quoted name (`` ` `` doubled inside): never a keyword.
    Quoted(String),
    /// A double-quoted string, escapes resolved.
    Str(String),
    Num(Number),
    /// `:name`
    Var(String),
    Op(CompareOp),
    LParen,
    RParen,
    Comma,
    Dot,
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    /// Character offset of the token's first character.
    pub(crate) start: usize,
}

impl Token {
    /// A bare word equal to `keyword`, ignoring ASCII case.
    pub(crate) fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.kind, TokenKind::Word(word) if word.eq_ignore_ascii_case(keyword))
    }

    /// How an error message refers to this token.
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            TokenKind::Word(word) => format!("'{word}'"),
            TokenKind::Quoted(name) => format!("`{name}`"),
            TokenKind::Str(_) => "a string".to_owned(),
            TokenKind::Num(_) => "a number".to_owned(),
            TokenKind::Var(name) => format!("':{name}'"),
            TokenKind::Op(op) => format!("'{}'", op.symbol()),
            TokenKind::LParen => "'('".to_owned(),
            TokenKind::RParen => "')'".to_owned(),
            TokenKind::Comma => "','".to_owned(),
            TokenKind::Dot => "'.'".to_owned(),
            TokenKind::End => "end of input".to_owned(),
        }
    }
}

/// The tokens of `text`, always ending with one `End` token.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        pos: 0,
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let end = token.kind == TokenKind::End;
        tokens.push(token);
        if end {
            return Ok(tokens);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token {
                kind: TokenKind::End,
                start,
            });
        };
        let kind = match c {
            '(' | ')' | ',' | '.' => {
                self.pos += 1;
                match c {
                    '(' => TokenKind::LParen,
                    ')' => TokenKind::RParen,
                    ',' => TokenKind::Comma,
                    _ => TokenKind::Dot,
                }
            }
            '"' => TokenKind::Str(self.string()?),
            '`' => TokenKind::Quoted(self.quoted_name()?),
            ':' => TokenKind::Var(self.variable()?),
            '=' | '!' | '<' | '>' => TokenKind::Op(self.operator()?),
            '-' if self.peek_at(1).is_some_and(|d| d.is_ascii_digit()) => {
                TokenKind::Num(self.number()?)
            }
            c if c.is_ascii_digit() => TokenKind::Num(self.number()?),
            c if is_word_start(c) => TokenKind::Word(self.word()),
            '\'' => {
                return Err(ParseError::new(
                    start,
                    "unexpected character \"'\" (strings are double-quoted)",
                ));
            }
            c => {
                return Err(ParseError::new(
                    start,
                    format!("unexpected character '{}'", c.escape_debug()),
                ));
            }
        };
        Ok(Token { kind, start })
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(is_word_char) {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// `` `name` ``, with `` `` `` standing for one backtick.
    fn quoted_name(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut name = String::new();
        loop {
            match self.peek() {
                None => return Err(ParseError::new(start, "unterminated quoted name starting")),
                Some('`') if self.peek_at(1) == Some('`') => {
                    name.push('`');
                    self.pos += 2;
                }
                Some('`') => {
                    self.pos += 1;
                    break;
                }
                Some(c) => {
                    name.push(c);
                    self.pos += 1;
                }
            }
        }
        if name.is_empty() {
            return Err(ParseError::new(start, "empty quoted name"));
        }
        Ok(name)
    }

    fn variable(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // ':'
        match self.peek() {
            Some(c) if is_word_start(c) => Ok(self.word()),
            Some('`') => self.quoted_name(),
            _ => Err(ParseError::new(
                self.pos,
                "expected a variable name after ':'",
            )),
        }
    }

    fn operator(&mut self) -> Result<CompareOp, ParseError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| matches!(c, '=' | '!' | '<' | '>'))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        match text.as_str() {
            "=" => Ok(CompareOp::Eq),
            "!=" | "<>" => Ok(CompareOp::Ne),
            "<" => Ok(CompareOp::Lt),
            "<=" => Ok(CompareOp::Le),
            ">" => Ok(CompareOp::Gt),
            ">=" => Ok(CompareOp::Ge),
            _ => Err(ParseError::new(start, format!("unknown operator '{text}'"))),
        }
    }

    /// Counts and skips ASCII digits.
    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?digits(.digits)?([eE][+-]?digits)?`; an integer too large for
    /// `i128` becomes a float.
    fn number(&mut self) -> Result<Number, ParseError> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        self.digits();
        let mut float = false;
        if self.peek() == Some('.') {
            self.pos += 1;
            float = true;
            if self.digits() == 0 {
                return Err(ParseError::new(self.pos, "expected a digit after '.'"));
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            self.pos += 1;
            float = true;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(ParseError::new(
                    self.pos,
                    "expected a digit in the exponent",
                ));
            }
        }
        if let Some(c) = self.peek().filter(|&c| is_word_char(c)) {
            return Err(ParseError::new(
                self.pos,
                format!("unexpected character '{c}' after a number"),
            ));
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let integer = if float {
            None
        } else {
            text.parse::<i128>().ok()
        };
        match integer {
            Some(i) => Ok(Number::Int(i)),
            None => text
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Number::Float)
                .ok_or_else(|| ParseError::new(start, "number out of range")),
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(ParseError::new(start, "unterminated string starting"));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(text),
                '\\' => text.push(self.escape(start)?),
                c => text.push(c),
            }
        }
    }

    /// The character after a backslash (already consumed) in the string that
    /// starts at `string_start`.
    fn escape(&mut self, string_start: usize) -> Result<char, ParseError> {
        let backslash = self.pos - 1;
        let Some(c) = self.peek() else {
            return Err(ParseError::new(
                string_start,
                "unterminated string starting",
            ));
        };
        self.pos += 1;
        match c {
            '"' => Ok('"'),
            '\\' => Ok('\\'),
            '/' => Ok('/'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            't' => Ok('\t'),
            'b' => Ok('\u{8}'),
            'f' => Ok('\u{c}'),
            'u' => self.unicode_escape(backslash),
            other => Err(ParseError::new(
                backslash,
                format!("invalid escape '\\{}' in string", other.escape_debug()),
            )),
        }
    }

    /// `\uXXXX`, or a UTF-16 surrogate pair `\uD83D\uDE00`.
    fn unicode_escape(&mut self, backslash: usize) -> Result<char, ParseError> {
        let unpaired = || ParseError::new(backslash, "unpaired UTF-16 surrogate in '\\u' escape");
        let high = self.hex4(backslash)?;
        let code = match high {
            0xD800..=0xDBFF => {
                if self.peek() != Some('\\') || self.peek_at(1) != Some('u') {
                    return Err(unpaired());
                }
                self.pos += 2;
                let low = self.hex4(self.pos - 2)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(unpaired());
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(unpaired()),
            code => code,
        };
        char::from_u32(code).ok_or_else(unpaired)
    }

    fn hex4(&mut self, backslash: usize) -> Result<u32, ParseError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|c| c.to_digit(16)).ok_or_else(|| {
                ParseError::new(backslash, "invalid '\\u' escape: expected 4 hex digits")
            })?;
            code = code * 16 + digit;
            self.pos += 1;
        }
        Ok(code)
    }
}
