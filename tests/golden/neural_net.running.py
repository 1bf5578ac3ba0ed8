def d_neural_net(params, x, y):
    spare = pool.spare
    buffers = spare.pop() if spare else pool.new()
    W0 = params["W"][0]
    h1_1 = np.dot(x, W0, buffers[0])
    b0 = params["b"][0]
    h1 = np.tanh(np.add(h1_1, b0, out=h1_1), out=h1_1)
    W1 = params["W"][1]
    h2_1 = np.dot(h1, W1, buffers[1])
    b1 = params["b"][1]
    h2 = np.tanh(np.add(h2_1, b1, out=h2_1), out=h2_1)
    y_hat_1 = np.exp(h2, buffers[2])
    y_hat_2 = np.add.reduce(y_hat_1, None)
    y_hat = np.subtract(h2, np.log(y_hat_2), buffers[3])
    out_1 = np.multiply(y_hat, y, out=y_hat)
    out = -np.add.reduce(out_1, None)

    # line 16: y_hat = h2 - np.log(np.sum(np.exp(h2)))
    dh2 = np.subtract(
        np.multiply(np.add.reduce(y, None) / y_hat_2, y_hat_1, out=y_hat_1),
        y,
        out=y_hat_1,
    )
    # line 15: h2 = np.tanh(h1 @ params["W"][1] + params["b"][1])
    dh2_2 = np.multiply(
        dh2, np.subtract(1.0, np.multiply(h2, h2, out=h2), out=h2), out=dh2
    )
    db1 = sum_leading(dh2_2, 1)
    dh1 = np.dot(dh2_2, W1.T, buffers[4])
    dW1 = np.dot(h1.T, dh2_2)
    # line 14: h1 = np.tanh(x @ params["W"][0] + params["b"][0])
    dh1_2 = np.multiply(
        dh1, np.subtract(1.0, np.multiply(h1, h1, out=h1), out=h1), out=dh1
    )
    db0 = sum_leading(dh1_2, 1)
    dW0 = np.dot(x.T, dh1_2)
    spare.append(buffers)
    return (out, build_gradient(params, dW0, db0, dW1, db1))
