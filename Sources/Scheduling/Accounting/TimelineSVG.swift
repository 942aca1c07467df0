/// Renders a slice trace as an SVG timeline a person can open in a browser: one lane per vCPU,
/// one coloured bar per slice (the exit-handling part of a slice darker), a time axis, and the
/// CPU index in each bar's tooltip. Output depends only on the input (no clock, no locale).
public enum TimelineSVG {
    /// The SVG document for `trace`, `duration` long, one lane per entry of `vcpus` (in that
    /// order; slices of other vCPUs are left out). `width` is the drawing width in pixels.
    public static func render(
        trace: [SliceRecord], vcpus: [VCPUID], duration: Nanoseconds, title: String, width: Int = 1200
    ) -> String {
        let laneHeight = 22, labelWidth = 90, top = 34, axisHeight = 24
        let plotWidth = max(100, width)
        let height = top + vcpus.count * laneHeight + axisHeight
        let span = Double(max(1, duration))
        func x(_ t: Nanoseconds) -> String {
            formatFixed(Double(labelWidth) + Double(min(t, duration)) / span * Double(plotWidth), decimals: 2)
        }
        func w(_ from: Nanoseconds, _ to: Nanoseconds) -> String {
            let clampedTo = min(to, duration), clampedFrom = min(from, clampedTo)
            return formatFixed(max(0.5, Double(clampedTo - clampedFrom) / span * Double(plotWidth)), decimals: 2)
        }
        var lane: [VCPUID: Int] = [:]
        for (i, id) in vcpus.enumerated() where lane[id] == nil { lane[id] = i }

        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(labelWidth + plotWidth + 10)\" "
        out += "height=\"\(height)\" font-family=\"monospace\" font-size=\"12\">\n"
        out += "<title>\(escape(title))</title>\n"
        out += "<text x=\"4\" y=\"18\" font-size=\"14\">\(escape(title))</text>\n"
        for (i, id) in vcpus.enumerated() {
            let y = top + i * laneHeight
            out += "<text x=\"4\" y=\"\(y + 15)\">\(escape(id.description))</text>\n"
            out += "<rect x=\"\(labelWidth)\" y=\"\(y)\" width=\"\(plotWidth)\" "
            out += "height=\"\(laneHeight - 4)\" fill=\"#f2f2f2\"/>\n"
        }
        for record in trace where record.start < duration {
            guard let i = lane[record.vcpu] else { continue }
            let y = top + i * laneHeight
            let hue = (i * 137) % 360
            let ending = record.outcome == .preempted ? "preempted" : "blocked"
            let tip = "\(record.vcpu) on cpu\(record.cpu): \(record.start)–\(record.end) ns, \(ending)"
            out += "<rect x=\"\(x(record.start))\" y=\"\(y)\" width=\"\(w(record.start, record.end))\" "
            out += "height=\"\(laneHeight - 4)\" fill=\"hsl(\(hue),65%,55%)\"><title>\(escape(tip))</title></rect>\n"
            if record.exitHandling > 0 {
                let ioStart = record.end - min(record.exitHandling, record.end - record.start)
                out += "<rect x=\"\(x(ioStart))\" y=\"\(y + 10)\" width=\"\(w(ioStart, record.end))\" "
                out += "height=\"\(laneHeight - 14)\" fill=\"hsl(\(hue),65%,30%)\"/>\n"
            }
        }
        let axisY = top + vcpus.count * laneHeight + 4
        out += "<line x1=\"\(labelWidth)\" y1=\"\(axisY)\" x2=\"\(labelWidth + plotWidth)\" "
        out += "y2=\"\(axisY)\" stroke=\"black\"/>\n"
        for tick in 0...10 {
            let t = duration / 10 * UInt64(tick)
            out += "<text x=\"\(x(t))\" y=\"\(axisY + 16)\" text-anchor=\"middle\">"
            out += "\(escape(formatDuration(t)))</text>\n"
        }
        return out + "</svg>\n"
    }

    /// XML text escaping.
    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
