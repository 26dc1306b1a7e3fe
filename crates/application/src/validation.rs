//! Rule violations found by a use case, reported per field like the HTTP layer's own
//! validation (`error_details`).

/// One broken rule on one field (`__all__` for rules on the whole request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl FieldViolation {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}
