//! Vertical logistic and linear regression on secret-shared values.
