//! The second sign-in step's rules: which channel a user owes, one-time codes, authenticator
//! (TOTP) codes, and what an account needs before a mode can be set.
//!
//! Codes by email or SMS are six random digits, valid [`CODE_VALID_MINUTES`], good once, and
//! dead after [`CODE_MAX_ATTEMPTS`] wrong tries. Authenticator codes follow RFC 6238 with
//! SHA-1, six digits, 30-second steps and one step of clock skew either way; a time step
//! that was accepted once is never accepted again. Nothing here touches the database.

use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::domain::TwoStepMode;
use crate::error::{ApiError, ApiResult};

/// Minutes an emailed or texted code stays valid.
pub const CODE_VALID_MINUTES: i64 = 10;
/// Wrong tries after which an emailed or texted code is dead.
pub const CODE_MAX_ATTEMPTS: i64 = 5;
/// Digits in every code.
pub const CODE_DIGITS: usize = 6;
/// Seconds per authenticator time step.
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Bytes of a new authenticator secret (160 bits, as RFC 4226 recommends).
pub const TOTP_SECRET_BYTES: usize = 20;
/// The issuer authenticator apps show next to the account when no better name is at hand.
pub const DEFAULT_TOTP_ISSUER: &str = "AXIS CloudSync";

/// How a code reaches the person signing in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
    Authenticator,
}

impl Channel {
    /// The contract's name, as in `two_step_mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Authenticator => "authenticator",
        }
    }

    /// Whether the server sends the code (email, SMS) rather than the person's app making it.
    pub fn is_sent(self) -> bool {
        self != Channel::Authenticator
    }
}

/// The second step a user owes after a right password, if any. When the policy
/// `require_two_step` is on, users who chose no mode get their code by email.
pub fn required_channel(mode: TwoStepMode, require_two_step: bool) -> Option<Channel> {
    match mode {
        TwoStepMode::Email => Some(Channel::Email),
        TwoStepMode::Sms => Some(Channel::Sms),
        TwoStepMode::Authenticator => Some(Channel::Authenticator),
        TwoStepMode::None if require_two_step => Some(Channel::Email),
        TwoStepMode::None => None,
    }
}

/// A new one-time code: six random digits, leading zeros kept.
pub fn new_one_time_code() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
}

/// The digits of a code as a person may type it (spaces and dashes ignored), or `None` when
/// it is not six digits; such input is simply a wrong code.
pub fn normalize_code(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// What a user needs once to set up an authenticator app. Shown once, when the mode is
/// turned on; the server keeps `secret_base32` in `users.totp_secret`.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthenticatorSetup {
    /// The shared secret, RFC 4648 base32 without padding, for typing into an app.
    pub secret_base32: String,
    /// `otpauth://totp/<issuer>:<username>?secret=…&issuer=…`, for a QR code.
    pub otpauth_url: String,
}

impl std::fmt::Debug for AuthenticatorSetup {
    // Hand-written so that the secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthenticatorSetup { .. }")
    }
}

/// Makes a new random authenticator secret for a user and the URL that apps read from a QR
/// code. Call it whenever `two_step_mode` becomes `authenticator` (also when it already was
/// and a new secret is wanted), store `secret_base32` in `users.totp_secret`, reset
/// `users.totp_last_step` to NULL, and return both fields to the caller once.
pub fn authenticator_setup(username: &str, issuer: &str) -> ApiResult<AuthenticatorSetup> {
    let secret = Secret::from(rand::random::<[u8; TOTP_SECRET_BYTES]>());
    let secret_base32 = secret.to_base32();
    let otpauth_url = otpauth_url(&secret_base32, username, issuer)?;
    Ok(AuthenticatorSetup { secret_base32, otpauth_url })
}

/// The `otpauth://` URL of a stored secret. Colons, which the URL format reserves as the
/// separator between issuer and account, are replaced in both names.
pub fn otpauth_url(secret_base32: &str, username: &str, issuer: &str) -> ApiResult<String> {
    let clean = |name: &str| name.trim().replace(':', "_");
    let (username, issuer) = (clean(username), clean(issuer));
    let account = if username.is_empty() { "user".to_string() } else { username };
    let issuer = if issuer.is_empty() { DEFAULT_TOTP_ISSUER.to_string() } else { issuer };
    let totp = builder(secret_base32)?
        .with_account_name(account)
        .with_issuer(Some(issuer))
        .build()
        .map_err(totp_error)?;
    totp.to_url().map_err(totp_error)
}

/// The code an authenticator shows at `unix_time` for the secret; `None` for a secret that
/// is not base32 or too short.
pub fn totp_code(secret_base32: &str, unix_time: u64) -> Option<String> {
    let totp = single_step_totp(secret_base32)?;
    Some(totp.generate(unix_time).to_string())
}

/// Checks an authenticator code at `unix_time`, allowing one step of skew either way, and
/// refusing every step up to `last_used_step` (a code works once, and never after a later
/// one). Answers the matched step, which the caller stores as the new last used step.
pub fn totp_accepts(
    secret_base32: &str,
    code: &str,
    unix_time: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let totp = single_step_totp(secret_base32)?;
    let code = normalize_code(code)?;
    let now_step = i64::try_from(u64::try_from(unix_time).ok()? / TOTP_STEP_SECONDS).ok()?;
    (now_step - 1..=now_step + 1)
        .filter(|step| *step >= 0 && last_used_step.is_none_or(|last| *step > last))
        .find(|step| {
            let step_start = u64::try_from(*step).unwrap_or(0) * TOTP_STEP_SECONDS;
            // `check` compares in constant time; with no skew it tries exactly this step.
            totp.check(&code, step_start).is_some()
        })
}

/// Whether a secret as stored can be used (base32, at least 128 bits).
pub fn is_valid_totp_secret(secret_base32: &str) -> bool {
    single_step_totp(secret_base32).is_some()
}

/// Whether text looks like a phone number a gateway can dial: an optional leading `+`,
/// then 5 to 20 digits, with spaces, dots, dashes and parentheses allowed between them.
pub fn is_phone_number(text: &str) -> bool {
    let text = text.trim();
    let rest = text.strip_prefix('+').unwrap_or(text);
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    (5..=20).contains(&digits)
        && rest.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '(' | ')'))
}

/// Checks that an account can use a mode: `email` needs an email address, `sms` a mobile
/// phone number that looks dialable. `authenticator` needs nothing from the person: the
/// server makes the secret with [`authenticator_setup`]. Answers a 400 naming the field.
/// User creation and update call this with the values the account will have once saved.
pub fn check_mode_requirements(
    mode: TwoStepMode,
    email: Option<&str>,
    mobile_phone: Option<&str>,
) -> ApiResult<()> {
    let present = |value: Option<&str>| value.is_some_and(|value| !value.trim().is_empty());
    match mode {
        TwoStepMode::Email if !present(email) => Err(ApiError::invalid(
            "two_step_mode 'email' needs an email address: set 'email' as well.",
        )),
        TwoStepMode::Sms if !present(mobile_phone) => Err(ApiError::invalid(
            "two_step_mode 'sms' needs a mobile phone number: set 'mobile_phone' as well.",
        )),
        TwoStepMode::Sms if !mobile_phone.is_some_and(is_phone_number) => Err(ApiError::invalid(
            "mobile_phone is not a phone number: use digits, an optional leading '+', spaces \
             or dashes.",
        )),
        _ => Ok(()),
    }
}

fn builder(secret_base32: &str) -> ApiResult<Builder> {
    let secret = Secret::try_from_base32(secret_base32.trim())
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("TOTP secret: {error:?}")))?;
    Ok(Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(TOTP_STEP_SECONDS)
        .with_secret(secret.as_bytes().to_vec()))
}

/// A generator that checks exactly one time step, so that the caller decides which steps
/// count (the skew window minus the steps already used).
fn single_step_totp(secret_base32: &str) -> Option<Totp> {
    builder(secret_base32).ok()?.with_skew(0).build().ok()
}

fn totp_error(error: totp_rs::TotpError) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("TOTP: {error:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret, the ASCII bytes "12345678901234567890", in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn codes_match_the_rfc_6238_sha1_test_vectors() {
        // The RFC lists eight-digit values; six-digit codes are their last six digits.
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, eight_digits) in vectors {
            assert_eq!(totp_code(RFC_SECRET, time).unwrap(), eight_digits[2..], "T = {time}");
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_only_once() {
        let time = 1_234_567_890; // step 41152263
        let step = time / 30;
        let code = totp_code(RFC_SECRET, time as u64).unwrap();

        assert_eq!(totp_accepts(RFC_SECRET, &code, time, None), Some(step));
        assert_eq!(totp_accepts(RFC_SECRET, &code, time - 30, None), Some(step), "clock behind");
        assert_eq!(totp_accepts(RFC_SECRET, &code, time + 30, None), Some(step), "clock ahead");
        assert_eq!(totp_accepts(RFC_SECRET, &code, time + 60, None), None, "two steps late");
        assert_eq!(totp_accepts(RFC_SECRET, &code, time - 60, None), None, "two steps early");
        assert_eq!(totp_accepts(RFC_SECRET, &code, time, Some(step)), None, "used once");
        assert_eq!(totp_accepts(RFC_SECRET, &code, time, Some(step + 1)), None, "a later one used");
        assert_eq!(totp_accepts(RFC_SECRET, &code, time, Some(step - 1)), Some(step));
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(totp_accepts(RFC_SECRET, &spaced, time, None), Some(step), "typed with a space");
    }

    #[test]
    fn wrong_malformed_codes_and_secrets_are_refused() {
        let time = 1_234_567_890;
        let code = totp_code(RFC_SECRET, time as u64).unwrap();
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        for bad in [wrong.as_str(), "", "12345", "1234567", "abcdef", "١٢٣٤٥٦"] {
            assert_eq!(totp_accepts(RFC_SECRET, bad, time, None), None, "{bad:?}");
        }
        assert_eq!(totp_accepts("not base32!", &code, time, None), None);
        assert_eq!(totp_accepts("GEZDGNBV", &code, time, None), None, "too short a secret");
        assert_eq!(totp_accepts(RFC_SECRET, &code, -5, None), None);
    }

    #[test]
    fn a_setup_gives_a_fresh_secret_and_a_url_apps_read() {
        let first = authenticator_setup("carol", "AXIS CloudSync").unwrap();
        let second = authenticator_setup("carol", "AXIS CloudSync").unwrap();

        assert_ne!(first.secret_base32, second.secret_base32);
        assert_eq!(first.secret_base32.len(), 32, "160 bits in base32");
        assert!(is_valid_totp_secret(&first.secret_base32));
        assert_eq!(
            first.otpauth_url,
            format!(
                "otpauth://totp/AXIS%20CloudSync:carol?secret={}&issuer=AXIS%20CloudSync",
                first.secret_base32
            )
        );
        assert!(!format!("{first:?}").contains(&first.secret_base32));
        // The URL round-trips through the crate's own reader, as an app would read it.
        let read = Totp::from_url(&first.otpauth_url).unwrap();
        assert_eq!(read.secret().to_base32(), first.secret_base32);
        assert_eq!(read.account_name(), "carol");
    }

    #[test]
    fn names_with_colons_or_nothing_still_make_a_url() {
        let url = otpauth_url(RFC_SECRET, "a:b", "").unwrap();
        assert!(url.starts_with("otpauth://totp/AXIS%20CloudSync:a_b?"), "{url}");
        let url = otpauth_url(RFC_SECRET, " ", "Office:Main").unwrap();
        assert!(url.starts_with("otpauth://totp/Office_Main:user?"), "{url}");
    }

    #[test]
    fn one_time_codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> =
            (0..50).map(|_| new_one_time_code()).collect();
        assert!(codes.len() > 40, "codes repeat too often: {codes:?}");
        assert!(codes.iter().all(|code| normalize_code(code).as_deref() == Some(code.as_str())));
        assert_eq!(normalize_code(" 123-456 ").as_deref(), Some("123456"));
        assert_eq!(normalize_code("12345"), None);
        assert_eq!(normalize_code("12345x"), None);
    }

    #[test]
    fn the_policy_sends_users_without_a_mode_a_code_by_email() {
        assert_eq!(required_channel(TwoStepMode::None, false), None);
        assert_eq!(required_channel(TwoStepMode::None, true), Some(Channel::Email));
        assert_eq!(required_channel(TwoStepMode::Sms, true), Some(Channel::Sms));
        assert_eq!(
            required_channel(TwoStepMode::Authenticator, false),
            Some(Channel::Authenticator)
        );
    }

    #[test]
    fn modes_need_their_channel_on_the_account() {
        let check = check_mode_requirements;
        assert!(check(TwoStepMode::None, None, None).is_ok());
        assert!(check(TwoStepMode::Email, Some("a@b.test"), None).is_ok());
        assert!(check(TwoStepMode::Email, Some(" "), None).is_err());
        assert!(check(TwoStepMode::Sms, None, Some("+41 79 123 45 67")).is_ok());
        assert!(check(TwoStepMode::Sms, Some("a@b.test"), None).is_err());
        assert!(check(TwoStepMode::Sms, None, Some("call me")).is_err());
        assert!(check(TwoStepMode::Authenticator, None, None).is_ok());
    }

    #[test]
    fn phone_numbers() {
        for good in ["+41791234567", "079 123 45 67", "(555) 010-9999", "+1.555.010.9999"] {
            assert!(is_phone_number(good), "{good}");
        }
        for bad in ["", "+", "1234", "call me", "+41 79 123 45 67 ext 5", "++41791234567"] {
            assert!(!is_phone_number(bad), "{bad}");
        }
    }
}
