//! A gateway a test can mend while workers run: the jobs' context holds one
//! gateway for the life of the worker process, so a test does not swap it,
//! the gateway itself comes back.
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use orders_flow::models::workflow::gateway::{
    Charge, ChargeOutcome, GatewayError, PaymentGateway, RefundRequest,
};

/// Answers as `down` until [`Self::repair`], then as `working`.
pub struct Repairable {
    down: Arc<dyn PaymentGateway>,
    working: Arc<dyn PaymentGateway>,
    repaired: AtomicBool,
}

impl Repairable {
    pub fn new(down: Arc<dyn PaymentGateway>, working: Arc<dyn PaymentGateway>) -> Arc<Self> {
        Arc::new(Self {
            down,
            working,
            repaired: AtomicBool::new(false),
        })
    }

    /// From now on every call goes to the working gateway.
    pub fn repair(&self) {
        self.repaired.store(true, Ordering::SeqCst);
    }

    fn now(&self) -> &dyn PaymentGateway {
        if self.repaired.load(Ordering::SeqCst) {
            self.working.as_ref()
        } else {
            self.down.as_ref()
        }
    }
}

#[async_trait::async_trait]
impl PaymentGateway for Repairable {
    fn name(&self) -> &'static str {
        self.now().name()
    }

    async fn charge(&self, charge: &Charge) -> Result<ChargeOutcome, GatewayError> {
        self.now().charge(charge).await
    }

    async fn refund(&self, refund: &RefundRequest) -> Result<ChargeOutcome, GatewayError> {
        self.now().refund(refund).await
    }
}
