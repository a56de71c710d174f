# The update rules on f(x, y) = x**2 / 20 + y**2, with Python numbers, as chapter 6 compares them.
import sys, os
sys.path.append(os.pardir)
import matplotlib.pyplot as plt
from collections import OrderedDict
from common.optimizer import *   # gives np too, as the book's module does

optimizers = OrderedDict(SGD=SGD(lr=0.95), Momentum=Momentum(lr=0.1), AdaGrad=AdaGrad(lr=1.5),
                         Adam=Adam(lr=0.3))
for idx, (key, optimizer) in enumerate(optimizers.items()):
    params = {'x': -7.0, 'y': 2.0}
    x_history = []
    for i in range(30):
        x_history.append(params['x'])
        grads = {'x': params['x'] / 10.0, 'y': 2.0 * params['y']}
        optimizer.update(params, grads)
    assert isinstance(params['x'], float) and len(set(x_history)) > 20, key
    plt.subplot(2, 2, idx + 1)
    plt.plot(x_history, 'o-')
    plt.title(key)
print(np.round(x_history[-1], 3))
plt.show()
