/// "250 µs", "10 ms", "1.5 s": a compact duration for names and reports.
func formatDuration(_ ns: Nanoseconds) -> String {
    func trimmed(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
    if ns >= 1_000_000_000 { return trimmed(Double(ns) / 1e9) + " s" }
    if ns >= 1_000_000 { return trimmed(Double(ns) / 1e6) + " ms" }
    if ns >= 1_000 { return trimmed(Double(ns) / 1e3) + " µs" }
    return "\(ns) ns"
}
