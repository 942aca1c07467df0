import Testing

@testable import Scheduling
@testable import VCPUScheduler

@Suite("SVG timeline")
struct TimelineTests {
    @Test("one bar per slice, one lane per vCPU, escaped text, same output every time")
    func render() throws {
        let workload = [
            cpuBound(0),
            SimulatedVCPU(
                VCPUID(1), pattern: .phases([.guest(1 * ms), .exitHandling(1 * ms), .blocked(2 * ms)], repeating: true)),
        ]
        let report = try Simulator(cpus: 1, duration: 20 * ms, recordsTrace: true).run(
            RoundRobinPolicy(timeSlice: 2 * ms), workload: workload)
        let ids = workload.map(\.id)
        let svg = TimelineSVG.render(
            trace: report.trace, vcpus: ids, duration: report.duration, title: "rr <2 ms> & co")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.contains("<title>rr &lt;2 ms&gt; &amp; co</title>"))
        // Bars: one per slice with a tooltip; darker overlays for slices with exit handling.
        #expect(svg.ranges(of: "</title></rect>").count == report.trace.count)
        let withIO = report.trace.filter { $0.exitHandling > 0 }.count
        #expect(withIO > 0)
        #expect(svg.ranges(of: ",65%,30%)").count == withIO)
        // Two lanes.
        #expect(svg.ranges(of: "fill=\"#f2f2f2\"").count == 2)
        #expect(
            svg
                == TimelineSVG.render(
                    trace: report.trace, vcpus: ids, duration: report.duration, title: "rr <2 ms> & co"))
    }
}
