/// A token bucket (Firecracker's model): ``size`` tokens that refill from empty to full in
/// ``refillTimeNanoseconds``, plus a ``oneTimeBurst`` spent first and never refilled. A device
/// takes tokens for what it moves (bytes, or operations) and waits when the bucket is short.
///
/// A request larger than the bucket is let through once the bucket is full, leaving it in
/// debt — the tokens it owes are refilled before anything else passes —, so large requests move
/// at the configured average rate rather than never. All times are monotonic nanoseconds given
/// by the caller, which makes the bucket deterministic under test.
public struct TokenBucket: Sendable, Hashable {
    /// The bucket's capacity in tokens.
    public let size: UInt64
    /// Extra tokens available once, at the start, before the refilled budget.
    public let oneTimeBurst: UInt64
    /// How long an empty bucket takes to refill to ``size``.
    public let refillTimeNanoseconds: UInt64

    /// Tokens available now (negative: a debt left by a request larger than the bucket).
    public private(set) var budget: Int64
    /// What is left of the one-time burst.
    public private(set) var burstLeft: UInt64
    /// The time the budget was last brought up to date.
    private var lastUpdate: UInt64
    /// Token-nanoseconds refilled toward the next token (below ``refillTimeNanoseconds``).
    private var carry: UInt64 = 0

    /// A full bucket at time `now`.
    ///
    /// - Throws: ``TokenBucketError`` for a zero size or refill time, or a size beyond
    ///   `Int64.max`.
    public init(
        size: UInt64, oneTimeBurst: UInt64 = 0, refillTimeNanoseconds: UInt64, now: UInt64
    ) throws(TokenBucketError) {
        guard size > 0, size <= UInt64(Int64.max) else { throw .invalidSize(size) }
        guard refillTimeNanoseconds > 0 else { throw .invalidRefillTime }
        self.size = size
        self.oneTimeBurst = oneTimeBurst
        self.refillTimeNanoseconds = refillTimeNanoseconds
        budget = Int64(size)
        burstLeft = oneTimeBurst
        lastUpdate = now
    }

    /// Takes `tokens` at time `now` if they are there (the one-time burst first): `true` and
    /// taken, or `false` and nothing taken. A request larger than ``size`` passes when the
    /// bucket is full and leaves the difference as debt.
    public mutating func consume(_ tokens: UInt64, now: UInt64) -> Bool {
        refill(now: now)
        if burstLeft >= tokens {
            burstLeft -= tokens
            return true
        }
        let fromBudget = tokens - burstLeft
        let needed = Int64(min(fromBudget, size))
        guard budget >= needed else { return false }
        burstLeft = 0
        budget -= Int64(clamping: fromBudget)
        return true
    }

    /// How long after `now` a ``consume(_:now:)`` of `tokens` can succeed (0: now).
    public mutating func nanosecondsUntilAvailable(_ tokens: UInt64, now: UInt64) -> UInt64 {
        refill(now: now)
        guard burstLeft < tokens else { return 0 }
        let needed = Int64(min(tokens - burstLeft, size))
        guard budget < needed else { return 0 }
        // Rounded up: the budget must be there when the caller comes back.
        let missing = UInt64(needed - budget)
        return Self.scale(missing, by: refillTimeNanoseconds, over: size, roundingUp: true)
    }

    /// Gives back `tokens` taken for something that did not happen after all.
    public mutating func giveBack(_ tokens: UInt64) {
        budget = min(Int64(size), budget + Int64(clamping: tokens))
    }

    /// Brings the budget up to date: the tokens refilled since the last update, at most up to
    /// ``size``. What refilled of the next token is kept exactly (``carry``), so no time is lost
    /// to rounding however often the bucket is asked.
    private mutating func refill(now: UInt64) {
        guard now > lastUpdate else { return }
        let elapsed = now - lastUpdate
        lastUpdate = now
        guard budget < Int64(size) else {
            carry = 0
            return
        }
        // elapsed × size + carry, in token-nanoseconds, 128 bits wide.
        var product = elapsed.multipliedFullWidth(by: size)
        let (low, overflow) = product.low.addingReportingOverflow(carry)
        product.low = low
        if overflow { product.high += 1 }
        let room = UInt64(Int64(size) - budget)
        guard product.high < refillTimeNanoseconds else {
            budget = Int64(size)
            carry = 0
            return
        }
        let (tokens, remainder) = refillTimeNanoseconds.dividingFullWidth(product)
        if tokens >= room {
            budget = Int64(size)
            carry = 0
        } else {
            budget += Int64(tokens)
            carry = remainder
        }
    }

    /// `value × numerator / denominator` without overflow (saturating at `UInt64.max`).
    static func scale(_ value: UInt64, by numerator: UInt64, over denominator: UInt64, roundingUp: Bool) -> UInt64 {
        let product = value.multipliedFullWidth(by: numerator)
        guard product.high < denominator else { return .max }
        let (quotient, remainder) = denominator.dividingFullWidth(product)
        return roundingUp && remainder > 0 && quotient < .max ? quotient + 1 : quotient
    }
}

/// Why a ``TokenBucket`` cannot be made.
public enum TokenBucketError: Error, Hashable, Sendable {
    /// A size of zero, or beyond `Int64.max`.
    case invalidSize(UInt64)
    /// A refill time of zero.
    case invalidRefillTime
}
