import TestSupport
import Testing

extension VCPUTests {
    /// The `hello-vm` example as a person runs it: its output and exit status.
    @Suite struct HelloVM {
        @Test func printsTheGreetingAndExitsZero() throws {
            let path = try #require(builtExecutable(named: "hello-vm"), "hello-vm was not built next to the tests")
            let result = try runProcess(path, [])
            #expect(result.status == 0, "stderr: \(result.standardError)")
            #expect(result.text == "Hello from a KVM guest\n")
        }

        /// `--help` describes the program and runs no VM; an unknown option is a usage error.
        @Test func helpDescribesAndRunsNothing() throws {
            let path = try #require(builtExecutable(named: "hello-vm"), "hello-vm was not built next to the tests")
            let help = try runProcess(path, ["--help"])
            #expect(help.status == 0)
            #expect(help.text.contains("OVERVIEW:") && !help.text.contains("Hello from a KVM guest"))
            #expect(try runProcess(path, ["--bogus"]).status == 64)
        }
    }
}
