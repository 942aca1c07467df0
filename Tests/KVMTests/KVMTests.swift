import Testing
@testable import KVM
@Test func placeholder() { #expect(Bool(true)) }
