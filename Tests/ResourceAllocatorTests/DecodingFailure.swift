import Foundation

/// Decodes `object` (a JSON value) as `T`: nil when it decodes, else the last key of the
/// `DecodingError.dataCorrupted` error and its description (any other error is thrown).
func decodingFailure<T: Decodable>(_ type: T.Type, _ object: [String: Any]) throws -> (key: String, reason: String)? {
    let data = try JSONSerialization.data(withJSONObject: object)
    do {
        _ = try JSONDecoder().decode(T.self, from: data)
        return nil
    } catch DecodingError.dataCorrupted(let context) {
        return (context.codingPath.last?.stringValue ?? "", context.debugDescription)
    }
}
