//! New session tokens, from the operating system's random source.

use domain::{
    ports::TokenGenerator,
    session::{SessionToken, TOKEN_BYTES},
};
use rand::Rng;

/// Makes tokens of 256 random bits from `rand`'s thread-local generator: ChaCha12, seeded
/// from the operating system's CSPRNG and reseeded periodically, so it is as unpredictable
/// as the OS source and needs no system call per token.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomTokenGenerator;

impl TokenGenerator for RandomTokenGenerator {
    fn generate(&self) -> SessionToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        SessionToken::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn tokens_are_well_formed_and_never_repeat() {
        let tokens: HashSet<String> = (0..10_000)
            .map(|_| RandomTokenGenerator.generate().expose().to_owned())
            .collect();
        assert_eq!(tokens.len(), 10_000);
        for token in tokens.iter().take(10) {
            assert_eq!(SessionToken::parse(token).unwrap().expose(), token);
        }
    }
}
