//! Customer e-mails, rendered from templates next to each mailer.
pub mod order_notification;
