//! Who may do what to which user, as pure functions.
//!
//! A user the actor may not see is `Hidden` (answered 404, as if it did not exist); an
//! action the actor's role does not allow on a user it can see is `Forbidden` (403).
//! Plain users see only themselves; moderators and admins see everyone.

use super::{Role, UserId, UserStatus};

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub id: UserId,
    pub role: Role,
}

impl Actor {
    pub fn is_admin(self) -> bool {
        self.role == Role::Admin
    }

    fn is_staff(self) -> bool {
        matches!(self.role, Role::Admin | Role::Moderator)
    }
}

/// The outcome of an authorisation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// Report as not found.
    Hidden,
    /// Visible, but the role does not allow the action.
    Forbidden,
}

fn visible(actor: Actor, target: UserId) -> bool {
    actor.id == target || actor.is_staff()
}

/// Reading a user (and their profile): self, moderators, admins.
pub fn can_view_user(actor: Actor, target: UserId) -> Access {
    if visible(actor, target) {
        Access::Allowed
    } else {
        Access::Hidden
    }
}

/// Listing users: moderators and admins.
pub fn can_list_users(actor: Actor) -> Access {
    if actor.is_staff() {
        Access::Allowed
    } else {
        Access::Forbidden
    }
}

/// Reading the analytics overview of every user and video: admins only.
pub fn can_view_analytics_overview(actor: Actor) -> Access {
    if actor.is_admin() {
        Access::Allowed
    } else {
        Access::Forbidden
    }
}

/// Changing username, name or email: self and admins (moderators see but may not).
pub fn can_update_user(actor: Actor, target: UserId) -> Access {
    if !visible(actor, target) {
        Access::Hidden
    } else if actor.id == target || actor.is_admin() {
        Access::Allowed
    } else {
        Access::Forbidden
    }
}

/// Deleting a user: self and admins.
pub fn can_delete_user(actor: Actor, target: UserId) -> Access {
    can_update_user(actor, target)
}

/// Changing a password: only the user themselves (it needs the current password).
pub fn can_change_password(actor: Actor, target: UserId) -> Access {
    if !visible(actor, target) {
        Access::Hidden
    } else if actor.id == target {
        Access::Allowed
    } else {
        Access::Forbidden
    }
}

/// Changing a status: admins for anyone but themselves; moderators for plain users
/// only. Nobody changes their own status (an admin cannot lock themselves out).
pub fn can_change_status(actor: Actor, target: (UserId, Role), _new: UserStatus) -> Access {
    let (target_id, target_role) = target;
    if !visible(actor, target_id) {
        return Access::Hidden;
    }
    if actor.id == target_id {
        return Access::Forbidden;
    }
    match actor.role {
        Role::Admin => Access::Allowed,
        Role::Moderator if target_role == Role::User => Access::Allowed,
        _ => Access::Forbidden,
    }
}

/// Changing a role: admins only, never their own.
pub fn can_change_role(actor: Actor, target: (UserId, Role), _new: Role) -> Access {
    let (target_id, _) = target;
    if !visible(actor, target_id) {
        return Access::Hidden;
    }
    if actor.is_admin() && actor.id != target_id {
        Access::Allowed
    } else {
        Access::Forbidden
    }
}
