//! OAuth scopes: `permission:projectKey` pairs and the rules by which one
//! scope implies another.
//!
//! A scope always names one project, so no grant ever reaches across
//! projects. Within a project `manage_project` implies every permission and
//! `manage_X` implies `view_X`; nothing else implies anything.

use payledger_domain::ProjectKey;
use std::fmt;

/// What a scope permits within its project.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Permission {
    ManageProject,
    ViewPayments,
    ManagePayments,
    ViewMessages,
    ViewTypes,
    ManageTypes,
    ViewStates,
    ManageStates,
    ViewSubscriptions,
    ManageSubscriptions,
    ViewOrders,
    ManageOrders,
    ViewAnalytics,
}

impl Permission {
    /// Every permission, in declaration order.
    pub const ALL: [Self; 13] = [
        Self::ManageProject,
        Self::ViewPayments,
        Self::ManagePayments,
        Self::ViewMessages,
        Self::ViewTypes,
        Self::ManageTypes,
        Self::ViewStates,
        Self::ManageStates,
        Self::ViewSubscriptions,
        Self::ManageSubscriptions,
        Self::ViewOrders,
        Self::ManageOrders,
        Self::ViewAnalytics,
    ];

    /// The wire name (`manage_project`, `view_payments`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ManageProject => "manage_project",
            Self::ViewPayments => "view_payments",
            Self::ManagePayments => "manage_payments",
            Self::ViewMessages => "view_messages",
            Self::ViewTypes => "view_types",
            Self::ManageTypes => "manage_types",
            Self::ViewStates => "view_states",
            Self::ManageStates => "manage_states",
            Self::ViewSubscriptions => "view_subscriptions",
            Self::ManageSubscriptions => "manage_subscriptions",
            Self::ViewOrders => "view_orders",
            Self::ManageOrders => "manage_orders",
            Self::ViewAnalytics => "view_analytics",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Whether holding `self` grants `wanted` (within the same project).
    pub const fn implies(self, wanted: Self) -> bool {
        match self {
            Self::ManageProject => true,
            Self::ManagePayments => matches!(wanted, Self::ManagePayments | Self::ViewPayments),
            Self::ManageTypes => matches!(wanted, Self::ManageTypes | Self::ViewTypes),
            Self::ManageStates => matches!(wanted, Self::ManageStates | Self::ViewStates),
            Self::ManageSubscriptions => {
                matches!(wanted, Self::ManageSubscriptions | Self::ViewSubscriptions)
            }
            Self::ViewPayments => matches!(wanted, Self::ViewPayments),
            Self::ViewMessages => matches!(wanted, Self::ViewMessages),
            Self::ViewTypes => matches!(wanted, Self::ViewTypes),
            Self::ViewStates => matches!(wanted, Self::ViewStates),
            Self::ManageOrders => matches!(wanted, Self::ManageOrders | Self::ViewOrders),
            Self::ViewSubscriptions => matches!(wanted, Self::ViewSubscriptions),
            Self::ViewOrders => matches!(wanted, Self::ViewOrders),
            Self::ViewAnalytics => matches!(wanted, Self::ViewAnalytics),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a scope text is not a scope.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ScopeError {
    #[error("expected `permission:projectKey`, for example `manage_project:my-shop`")]
    MissingProject,
    #[error(
        "unknown permission `{name}` (known: manage_project, view_payments, manage_payments, \
         view_messages, view_types, manage_types, view_states, manage_states, \
         view_subscriptions, manage_subscriptions, view_orders, manage_orders)"
    )]
    UnknownPermission { name: String },
    #[error("`{project}` is not a project key (1 to 64 letters, digits, `-` or `_`)")]
    InvalidProject { project: String },
}

/// One permission in one project, such as `view_payments:shop`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Scope {
    permission: Permission,
    project: ProjectKey,
}

impl Scope {
    pub const fn new(permission: Permission, project: ProjectKey) -> Self {
        Self {
            permission,
            project,
        }
    }

    /// Parses `permission:projectKey`.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let (name, project) = text.split_once(':').ok_or(ScopeError::MissingProject)?;
        let permission = Permission::parse(name).ok_or_else(|| ScopeError::UnknownPermission {
            name: name.to_owned(),
        })?;
        let project = ProjectKey::parse(project).ok_or_else(|| ScopeError::InvalidProject {
            project: project.to_owned(),
        })?;
        Ok(Self::new(permission, project))
    }

    pub const fn permission(&self) -> Permission {
        self.permission
    }

    pub const fn project(&self) -> &ProjectKey {
        &self.project
    }

    /// Whether holding `self` grants `wanted`: same project, and the
    /// permission implies the wanted one.
    pub fn implies(&self, wanted: &Self) -> bool {
        self.project == wanted.project && self.permission.implies(wanted.permission)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.permission, self.project)
    }
}

/// Splits a scope list (separated by any whitespace) into its words.
pub fn scope_words(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
}

/// The canonical text of a scope list: single spaces, in the given order.
pub fn scope_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(Scope::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}
