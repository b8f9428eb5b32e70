//! The ticket sections of other pages: an asset's tickets and recent
//! changes, shown by `deskhand assets show` and a ticket's linked assets.

use deskhand_api_types::assets::HistoryView;
use deskhand_api_types::tickets::TicketView;

use super::ticket_table;

/// An asset's changes in the last 7 days, as its page and a ticket's
/// linked assets show them: `shown` of `total`.
pub fn changes_text(shown: &[HistoryView], total: usize) -> String {
    if shown.is_empty() {
        return "changed in the last 7 days: nothing\n".into();
    }
    let newest = if total > shown.len() {
        format!(", newest {} shown", shown.len())
    } else {
        String::new()
    };
    let s = if total == 1 { "" } else { "s" };
    format!(
        "changed in the last 7 days ({total} change{s}{newest}):\n{}",
        crate::tables::history_table(shown).to_text()
    )
}

/// The tickets section of `deskhand assets show`.
pub fn asset_tickets_text(rows: &[TicketView]) -> String {
    if rows.is_empty() {
        return "\ntickets: none open or recent\n".into();
    }
    format!(
        "\ntickets (open, and changed in the last 30 days):\n{}",
        ticket_table(rows).to_text()
    )
}
