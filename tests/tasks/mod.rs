mod args;
mod refund;
