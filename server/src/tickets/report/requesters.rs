//! The report seen from the requesters' side: tickets by the channel
//! they came in by, the requesters' own ratings, the share of
//! satisfaction surveys answered, and the requests the knowledge base
//! answered before they were tickets.
//!
//! - *by channel*: of the tickets that came in by a channel, those
//!   opened and resolved in the span, their resolution times and ratings
//!   (as the period rows count them).
//! - *requesters' satisfaction*: the mean of the ratings given in the
//!   span by the requesters themselves (portal, survey link), leaving out
//!   ratings a technician typed in for them.
//! - *survey response rate*: of the surveys sent in the span (one per
//!   resolution mailed to a requester), the share answered.
//! - *deflected*: requests closed in the portal by "this solved it" on a
//!   suggested article, in the span.

use super::{Channel, PeriodRow, TicketFacts, Times, in_span, mean, percent, row};

/// One channel's tickets over the span.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRow {
    /// The channel.
    pub channel: Channel,
    /// Tickets that came in by it, created in the span.
    pub opened: usize,
    /// Of its tickets, those resolved in the span.
    pub resolved: usize,
    /// Their resolution times.
    pub resolution: Times,
    /// Mean rating given in the span.
    pub satisfaction: Option<f64>,
    /// How many ratings.
    pub ratings: usize,
}

/// What the store counts for the span that the tickets do not hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequesterCounts {
    /// Satisfaction surveys sent.
    pub surveys_sent: usize,
    /// Of those, answered.
    pub surveys_answered: usize,
    /// Requests the knowledge base answered in the portal.
    pub deflected: usize,
}

/// The requesters' side over the span.
#[derive(Debug, Clone, PartialEq)]
pub struct RequesterRow {
    /// Ratings the requesters gave themselves.
    pub ratings: usize,
    /// Their mean.
    pub satisfaction: Option<f64>,
    /// Surveys sent.
    pub surveys_sent: usize,
    /// Surveys answered.
    pub surveys_answered: usize,
    /// Answered of sent, percent.
    pub response_rate: Option<f64>,
    /// Requests deflected by the knowledge base.
    pub deflected: usize,
    /// Deflected of (deflected + tickets opened in the portal), percent.
    pub deflection_rate: Option<f64>,
}

/// One row per channel, in [`Channel::ALL`] order, each channel listed
/// even when it brought nothing (a zero is an answer too).
pub fn by_channel(facts: &[TicketFacts], from: i64, to: i64) -> Vec<ChannelRow> {
    Channel::ALL
        .into_iter()
        .map(|channel| {
            let mine: Vec<&TicketFacts> = facts.iter().filter(|f| f.channel == channel).collect();
            let PeriodRow {
                opened,
                resolved,
                resolution,
                satisfaction,
                ratings,
                ..
            } = row(&mine, from, to);
            ChannelRow {
                channel,
                opened,
                resolved,
                resolution,
                satisfaction,
                ratings,
            }
        })
        .collect()
}

/// The requesters' side of `[from, to)`.
pub fn requester_row(
    facts: &[TicketFacts],
    counts: RequesterCounts,
    from: i64,
    to: i64,
) -> RequesterRow {
    let ratings: Vec<i64> = facts
        .iter()
        .filter(|f| f.rated_by_requester && in_span(f.rated_at, from, to))
        .filter_map(|f| f.rating)
        .collect();
    let portal_opened = facts
        .iter()
        .filter(|f| f.channel == Channel::Portal && in_span(Some(f.created_at), from, to))
        .count();
    RequesterRow {
        ratings: ratings.len(),
        satisfaction: mean(&ratings),
        surveys_sent: counts.surveys_sent,
        surveys_answered: counts.surveys_answered,
        response_rate: percent(counts.surveys_answered, counts.surveys_sent),
        deflected: counts.deflected,
        deflection_rate: percent(counts.deflected, counts.deflected + portal_opened),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86400;

    fn f(number: i64, channel: Channel, created: i64) -> TicketFacts {
        TicketFacts {
            number,
            channel,
            created_at: created,
            active: true,
            ..TicketFacts::default()
        }
    }

    #[test]
    fn channels_count_their_own_tickets_and_every_channel_is_listed() {
        let mut rated = f(2, Channel::Email, DAY);
        rated.resolved_at = Some(2 * DAY);
        rated.resolution_secs = Some(DAY);
        rated.rating = Some(4);
        rated.rated_at = Some(2 * DAY);
        let facts = [
            f(1, Channel::Portal, DAY),
            rated,
            f(3, Channel::Portal, 3 * DAY),
            // Before the span: not opened in it.
            f(4, Channel::Portal, -DAY),
        ];
        let rows = by_channel(&facts, 0, 10 * DAY);
        let got: Vec<(Channel, usize, usize, Option<f64>)> = rows
            .iter()
            .map(|r| (r.channel, r.opened, r.resolved, r.satisfaction))
            .collect();
        assert_eq!(
            got,
            vec![
                (Channel::Technician, 0, 0, None),
                (Channel::Agent, 0, 0, None),
                (Channel::Portal, 2, 0, None),
                (Channel::Email, 1, 1, Some(4.0)),
            ]
        );
        assert_eq!(rows[3].resolution.median, Some(DAY));
    }

    #[test]
    fn the_requesters_side_counts_only_their_own_ratings_and_the_surveys_answered() {
        let rate = |n, score, by_requester| {
            let mut t = f(n, Channel::Email, DAY);
            t.rating = Some(score);
            t.rated_at = Some(2 * DAY);
            t.rated_by_requester = by_requester;
            t
        };
        let facts = [
            rate(1, 5, true),
            rate(2, 2, true),
            rate(3, 1, false),
            f(4, Channel::Portal, DAY),
        ];
        let counts = RequesterCounts {
            surveys_sent: 4,
            surveys_answered: 1,
            deflected: 3,
        };
        let r = requester_row(&facts, counts, 0, 10 * DAY);
        assert_eq!(r.ratings, 2);
        assert_eq!(r.satisfaction, Some(3.5));
        assert_eq!(r.response_rate, Some(25.0));
        assert_eq!(r.deflected, 3);
        // 3 deflected against 1 ticket opened in the portal.
        assert_eq!(r.deflection_rate, Some(75.0));
        let none = requester_row(&[], RequesterCounts::default(), 0, DAY);
        assert_eq!((none.response_rate, none.satisfaction), (None, None));
    }
}
