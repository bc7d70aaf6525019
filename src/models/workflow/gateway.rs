//! Payments go through [`PaymentGateway`]; [`FakeGateway`] is the built-in one.
use std::time::Duration;

use async_trait::async_trait;

use crate::{models::prng::SplitMix64, settings::PaymentSettings};

/// One charge request. The idempotency key lets a real gateway recognise a retry.
#[derive(Debug, Clone)]
pub struct Charge {
    pub order_id: i64,
    pub idempotency_key: String,
    pub amount_cents: i64,
    pub currency: String,
}

/// What the gateway decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Approved { reference: String },
    Declined { reason: String },
}

/// One refund of (part of) a captured charge. The key is stable per refund row.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub refund_id: i64,
    pub order_id: i64,
    pub idempotency_key: String,
    pub amount_cents: i64,
    pub currency: String,
}

/// The gateway could not answer: not a decline, so the queue retries.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("payment gateway timed out")]
    Timeout,
    #[error("payment gateway unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Provider name stored on payment rows.
    fn name(&self) -> &'static str;

    /// Charges an order; the same request must give the same outcome.
    async fn charge(&self, charge: &Charge) -> Result<ChargeOutcome, GatewayError>;

    /// Refunds part of a charge; the same request must give the same outcome.
    /// A gateway that cannot refund says so, and the refund job retries.
    async fn refund(&self, refund: &RefundRequest) -> Result<ChargeOutcome, GatewayError> {
        Err(GatewayError::Unavailable(format!(
            "{} cannot refund (refund {})",
            self.name(),
            refund.refund_id
        )))
    }
}

/// Approves `success_rate` of charges; the outcome for an order is a pure
/// function of (seed, order id), so a rerun after a crash gives the same answer.
#[derive(Debug, Clone)]
pub struct FakeGateway {
    /// Approval thresholds out of `u32::MAX`: integer maths from here on.
    approve_below: u64,
    refund_below: u64,
    latency: Duration,
    seed: u64,
}

impl FakeGateway {
    #[must_use]
    pub fn new(settings: &PaymentSettings) -> Self {
        Self {
            approve_below: threshold(settings.success_rate),
            refund_below: threshold(settings.refund_success_rate),
            latency: Duration::from_millis(settings.latency_ms),
            seed: settings.seed,
        }
    }

    /// The decision for one order, without the simulated latency.
    #[must_use]
    pub fn approves(&self, order_id: i64) -> bool {
        #[allow(clippy::cast_sign_loss)]
        let roll = splitmix64(self.seed ^ (order_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        (roll >> 32) < self.approve_below
    }

    /// The decision for one refund: a pure function of (seed, refund id).
    #[must_use]
    pub fn approves_refund(&self, refund_id: i64) -> bool {
        // A different stream from charges, so refund ids do not mirror order ids.
        #[allow(clippy::cast_sign_loss)]
        let roll = splitmix64(
            (self.seed ^ 0xA076_1D64_78BD_642F)
                ^ (refund_id as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
        );
        (roll >> 32) < self.refund_below
    }
}

impl FakeGateway {
    /// After the configured latency: approved with a reference made of the
    /// idempotency key, or declined for `declined`.
    async fn answer(&self, approved: bool, key: &str, declined: &str) -> ChargeOutcome {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if approved {
            ChargeOutcome::Approved {
                reference: format!("fake-{key}"),
            }
        } else {
            ChargeOutcome::Declined {
                reason: declined.to_string(),
            }
        }
    }
}

/// A validated probability in 0.0..=1.0 (not money) as a threshold out of `u32::MAX`.
fn threshold(rate: f64) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let below = (rate * f64::from(u32::MAX)).round() as u64;
    below
}

#[async_trait]
impl PaymentGateway for FakeGateway {
    fn name(&self) -> &'static str {
        "fake"
    }

    async fn charge(&self, charge: &Charge) -> Result<ChargeOutcome, GatewayError> {
        let approved = self.approves(charge.order_id);
        Ok(self
            .answer(approved, &charge.idempotency_key, "card_declined")
            .await)
    }

    async fn refund(&self, refund: &RefundRequest) -> Result<ChargeOutcome, GatewayError> {
        let approved = self.approves_refund(refund.refund_id);
        Ok(self
            .answer(approved, &refund.idempotency_key, "refund_declined")
            .await)
    }
}

/// The first output of SplitMix64 seeded with `x`: a stateless hash.
fn splitmix64(x: u64) -> u64 {
    SplitMix64::new(x).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(rate: f64, seed: u64) -> FakeGateway {
        FakeGateway::new(&PaymentSettings {
            success_rate: rate,
            latency_ms: 0,
            seed,
            refund_success_rate: rate,
        })
    }

    #[test]
    fn outcome_is_a_pure_function_of_seed_and_order() {
        let a = gateway(0.5, 7);
        let b = gateway(0.5, 7);
        for id in 1..500 {
            assert_eq!(a.approves(id), b.approves(id));
        }
        let other_seed = gateway(0.5, 8);
        assert!((1..500).any(|id| a.approves(id) != other_seed.approves(id)));
    }

    #[test]
    fn rate_is_respected() {
        assert!((1..1000).all(|id| gateway(1.0, 1).approves(id)));
        assert!((1..1000).all(|id| !gateway(0.0, 1).approves(id)));
        let approved = (1..10_001)
            .filter(|id| gateway(0.9, 3).approves(*id))
            .count();
        assert!((8_800..9_200).contains(&approved), "{approved}");
    }

    #[test]
    fn refund_outcome_is_a_pure_function_of_seed_and_refund() {
        let a = gateway(0.5, 7);
        let b = gateway(0.5, 7);
        assert!((1..500).all(|id| a.approves_refund(id) == b.approves_refund(id)));
        assert!((1..500).any(|id| a.approves_refund(id) != gateway(0.5, 8).approves_refund(id)));
        assert!((1..1000).all(|id| gateway(1.0, 1).approves_refund(id)));
        assert!((1..1000).all(|id| !gateway(0.0, 1).approves_refund(id)));
        let approved = (1..10_001)
            .filter(|id| gateway(0.7, 3).approves_refund(*id))
            .count();
        assert!((6_800..7_200).contains(&approved), "{approved}");
    }
}
