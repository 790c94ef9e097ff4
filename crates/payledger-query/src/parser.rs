//! Recursive-descent parser for `where` predicates.
//!
//! ```text
//! predicate := or ; or := and {"or" and} ; and := unary {"and" unary}
//! unary     := "not" "(" predicate ")" | "(" predicate ")" | atom
//! atom      := path "(" predicate ")"
//!            | path op value                        # = != <> > >= < <=
//!            | path ["not"] "in" ("(" value {"," value} ")" | ":" var)
//!            | path "contains" ("any"|"all") ("(" value {"," value} ")" | ":" var)
//!            | path "is" ["not"] ("defined"|"empty")
//! value     := "string" | number | true | false | ":" var
//! path      := identifier | `quoted name`
//! ```
//!
//! A path is one field name: nesting is written with parentheses, as in
//! commercetools (`amountPlanned(centAmount > 5)`), and a dotted path is
//! refused with a hint saying so. `not` at the start of a unary is always the
//! keyword; a field literally named `not` is written `` `not` ``.
//!
//! Both limits are checked before any deep work: the text size before
//! tokenizing, the nesting depth (parentheses, `not(`, `field(`) while
//! descending, which also bounds the parser's recursion.

use crate::ast::{ContainsMode, IsCheck, Literal, Operand, Predicate, ValueList};
use crate::error::ParseError;
use crate::lexer::{Token, TokenKind, tokenize};

/// Longest accepted predicate text, in bytes.
pub const PREDICATE_BYTES_MAX: usize = 10_000;

/// Deepest accepted nesting of parentheses, `not(…)` and `field(…)`.
pub const PREDICATE_DEPTH_MAX: usize = 32;

/// Parses a `where` predicate.
pub fn parse(text: &str) -> Result<Predicate, ParseError> {
    if text.len() > PREDICATE_BYTES_MAX {
        let position = text
            .char_indices()
            .take_while(|(byte, _)| *byte < PREDICATE_BYTES_MAX)
            .count();
        return Err(ParseError::new(
            position,
            format!(
                "predicate of {} bytes exceeds the limit of {PREDICATE_BYTES_MAX} bytes",
                text.len()
            ),
        ));
    }
    let mut parser = Parser::new(tokenize(text)?);
    if parser.peek().kind == TokenKind::End {
        return Err(ParseError::new(0, "empty predicate"));
    }
    let predicate = parser.or()?;
    let next = parser.peek();
    match next.kind {
        TokenKind::End => Ok(predicate),
        TokenKind::RParen => Err(ParseError::new(next.start, "unbalanced ')'")),
        _ => Err(ParseError::new(
            next.start,
            format!(
                "expected 'and', 'or' or end of predicate, found {}",
                next.describe()
            ),
        )),
    }
}

/// A cursor over tokens; shared with the sort-key parser.
pub(crate) struct Parser {
    tokens: Vec<Token>,
    index: usize,
    depth: usize,
}

impl Parser {
    pub(crate) fn new(tokens: Vec<Token>) -> Parser {
        assert!(
            tokens.last().is_some_and(|t| t.kind == TokenKind::End),
            "the lexer ends every token list with End"
        );
        Parser {
            tokens,
            index: 0,
            depth: 0,
        }
    }

    /// The current token; stays on `End` once there.
    pub(crate) fn peek(&self) -> &Token {
        &self.tokens[self.index]
    }

    pub(crate) fn bump(&mut self) -> Token {
        let token = self.tokens[self.index].clone();
        if self.index + 1 < self.tokens.len() {
            self.index += 1;
        }
        token
    }

    fn or(&mut self) -> Result<Predicate, ParseError> {
        let first = self.and()?;
        if !self.peek().is_keyword("or") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek().is_keyword("or") {
            self.bump();
            items.push(self.and()?);
        }
        Ok(Predicate::Or(items))
    }

    fn and(&mut self) -> Result<Predicate, ParseError> {
        let first = self.unary()?;
        if !self.peek().is_keyword("and") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.peek().is_keyword("and") {
            self.bump();
            items.push(self.unary()?);
        }
        Ok(Predicate::And(items))
    }

    fn unary(&mut self) -> Result<Predicate, ParseError> {
        let token = self.bump();
        match token.kind {
            TokenKind::LParen => self.group(token.start),
            TokenKind::Word(word) if word.eq_ignore_ascii_case("not") => {
                let open = self.bump();
                if open.kind != TokenKind::LParen {
                    return Err(ParseError::new(open.start, "expected '(' after 'not'"));
                }
                Ok(Predicate::Not(Box::new(self.group(open.start)?)))
            }
            TokenKind::Word(field) | TokenKind::Quoted(field) => self.atom(field),
            TokenKind::End => Err(ParseError::new(token.start, "expected a predicate")),
            _ => Err(ParseError::new(
                token.start,
                format!(
                    "expected a field name, '(' or 'not', found {}",
                    token.describe()
                ),
            )),
        }
    }

    /// The predicate and `)` after a `(` (already consumed) at `open`.
    fn group(&mut self, open: usize) -> Result<Predicate, ParseError> {
        self.depth += 1;
        if self.depth > PREDICATE_DEPTH_MAX {
            return Err(ParseError::new(
                open,
                format!("predicate nests deeper than {PREDICATE_DEPTH_MAX} levels"),
            ));
        }
        if self.peek().kind == TokenKind::RParen {
            return Err(ParseError::new(
                self.peek().start,
                "expected a predicate inside '()'",
            ));
        }
        let inner = self.or()?;
        let close = self.bump();
        if close.kind != TokenKind::RParen {
            return Err(ParseError::new(
                close.start,
                format!("expected ')', found {}", close.describe()),
            ));
        }
        self.depth -= 1;
        Ok(inner)
    }

    /// Everything after the field name (already consumed).
    fn atom(&mut self, field: String) -> Result<Predicate, ParseError> {
        let token = self.bump();
        match token.kind {
            TokenKind::LParen => Ok(Predicate::Nested {
                field,
                inner: Box::new(self.group(token.start)?),
            }),
            TokenKind::Op(op) => {
                let value = self.operand(op.symbol())?;
                Ok(Predicate::Compare { field, op, value })
            }
            TokenKind::Word(word) if word.eq_ignore_ascii_case("not") => {
                let keyword = self.bump();
                if !keyword.is_keyword("in") {
                    return Err(ParseError::new(keyword.start, "expected 'in' after 'not'"));
                }
                let values = self.value_list("not in")?;
                Ok(Predicate::In {
                    field,
                    negated: true,
                    values,
                })
            }
            TokenKind::Word(word) if word.eq_ignore_ascii_case("in") => {
                let values = self.value_list("in")?;
                Ok(Predicate::In {
                    field,
                    negated: false,
                    values,
                })
            }
            TokenKind::Word(word) if word.eq_ignore_ascii_case("contains") => self.contains(field),
            TokenKind::Word(word) if word.eq_ignore_ascii_case("is") => self.is(field),
            TokenKind::Word(word) => Err(ParseError::new(
                token.start,
                format!("unknown operator '{word}'"),
            )),
            TokenKind::Dot => Err(ParseError::new(
                token.start,
                format!("dotted paths are not supported; nest with parentheses, as in {field}(…)"),
            )),
            TokenKind::End => Err(ParseError::new(
                token.start,
                format!("missing operator after '{field}'"),
            )),
            _ => Err(ParseError::new(
                token.start,
                format!(
                    "expected an operator after '{field}', found {}",
                    token.describe()
                ),
            )),
        }
    }

    fn contains(&mut self, field: String) -> Result<Predicate, ParseError> {
        let token = self.bump();
        let mode = if token.is_keyword("any") {
            ContainsMode::Any
        } else if token.is_keyword("all") {
            ContainsMode::All
        } else {
            return Err(ParseError::new(
                token.start,
                "expected 'any' or 'all' after 'contains'",
            ));
        };
        let values = self.value_list(if mode == ContainsMode::Any {
            "contains any"
        } else {
            "contains all"
        })?;
        Ok(Predicate::Contains {
            field,
            mode,
            values,
        })
    }

    fn is(&mut self, field: String) -> Result<Predicate, ParseError> {
        let mut token = self.bump();
        let negated = token.is_keyword("not");
        if negated {
            token = self.bump();
        }
        let check = if token.is_keyword("defined") {
            IsCheck::Defined
        } else if token.is_keyword("empty") {
            IsCheck::Empty
        } else {
            let after = if negated { "is not" } else { "is" };
            return Err(ParseError::new(
                token.start,
                format!("expected 'defined' or 'empty' after '{after}'"),
            ));
        };
        Ok(Predicate::Is {
            field,
            negated,
            check,
        })
    }

    /// A value after the operator or keyword spelled `after`.
    fn operand(&mut self, after: &str) -> Result<Operand, ParseError> {
        let token = self.bump();
        match token.kind {
            TokenKind::Str(text) => Ok(Operand::Literal(Literal::String(text))),
            TokenKind::Num(number) => Ok(Operand::Literal(Literal::Number(number))),
            TokenKind::Var(name) => Ok(Operand::Variable(name)),
            TokenKind::Word(word) if word.eq_ignore_ascii_case("true") => {
                Ok(Operand::Literal(Literal::Bool(true)))
            }
            TokenKind::Word(word) if word.eq_ignore_ascii_case("false") => {
                Ok(Operand::Literal(Literal::Bool(false)))
            }
            TokenKind::Word(word) => Err(ParseError::new(
                token.start,
                format!("unquoted value '{word}' after '{after}' (strings are double-quoted)"),
            )),
            TokenKind::End => Err(ParseError::new(
                token.start,
                format!("missing value after '{after}'"),
            )),
            _ => Err(ParseError::new(
                token.start,
                format!(
                    "expected a value after '{after}', found {}",
                    token.describe()
                ),
            )),
        }
    }

    /// `(v, …)` or `:var` after the keyword(s) spelled `after`.
    fn value_list(&mut self, after: &str) -> Result<ValueList, ParseError> {
        let token = self.bump();
        match token.kind {
            TokenKind::Var(name) => return Ok(ValueList::Variable(name)),
            TokenKind::LParen => {}
            TokenKind::End => {
                return Err(ParseError::new(
                    token.start,
                    format!("missing value list after '{after}'"),
                ));
            }
            _ => {
                return Err(ParseError::new(
                    token.start,
                    format!(
                        "expected '(' or ':variable' after '{after}', found {}",
                        token.describe()
                    ),
                ));
            }
        }
        let mut values = vec![self.operand("(")?];
        loop {
            let token = self.bump();
            match token.kind {
                TokenKind::Comma => values.push(self.operand(",")?),
                TokenKind::RParen => return Ok(ValueList::Values(values)),
                _ => {
                    return Err(ParseError::new(
                        token.start,
                        format!("expected ',' or ')', found {}", token.describe()),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
